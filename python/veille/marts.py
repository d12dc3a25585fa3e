"""Reading the marts, whichever engine built them (docs/spark.md).

The studies, scan, pathways and fraud jobs read dbt's marts as DataFrames through ``Marts.read``.
``PostgresMarts`` reads them with SQL from the warehouse database; ``SparkMarts`` from the
Parquet files of the Spark target's tables (``$VEILLE_SPARK_HOME/warehouse/<schema>.db/<table>``,
or ``VEILLE_SPARK_WAREHOUSE`` for a cluster's warehouse folder), filtered by PyArrow, so no
Spark session is needed to read them. ``marts_for(target)`` picks one by the dbt target name.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow.dataset as ds
import sqlalchemy as sa

from veille import db
from veille.errors import VeilleError

TARGETS = ("default", "spark")


class Marts(Protocol):
    target: str

    def read(self, table: str, where: dict[str, Sequence] | None = None) -> pd.DataFrame:
        """Rows of ``table`` (schema.table) whose columns hold one of the given values."""
        ...


class PostgresMarts:
    target = "default"

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def read(self, table: str, where: dict[str, Sequence] | None = None) -> pd.DataFrame:
        schema, name = table.split(".")
        if self.conn.execute(sa.text("select to_regclass(:t)"), {"t": table}).scalar() is None:
            raise VeilleError(f"mart {table} is missing: build the dbt project first (veille dbt build)")
        conditions = [f"{column} = any(:v{i})" for i, column in enumerate(where or {})]
        params = {f"v{i}": list(values) for i, values in enumerate((where or {}).values())}
        sql = f'select * from "{schema}"."{name}"' + (" where " + " and ".join(conditions) if conditions else "")
        return pd.read_sql(sa.text(sql), self.conn, params=params)


def spark_warehouse() -> Path:
    """The folder of the Spark target's tables."""
    if os.environ.get("VEILLE_SPARK_WAREHOUSE"):
        return Path(os.environ["VEILLE_SPARK_WAREHOUSE"])
    home = os.environ.get("VEILLE_SPARK_HOME") or str(db.veille_home() / "spark")
    return Path(home) / "warehouse"


class SparkMarts:
    target = "spark"

    def __init__(self, warehouse: Path | None = None):
        self.warehouse = Path(warehouse) if warehouse else spark_warehouse()

    def path(self, table: str) -> Path:
        schema, name = table.split(".")
        return self.warehouse / f"{schema}.db" / name

    def read(self, table: str, where: dict[str, Sequence] | None = None) -> pd.DataFrame:
        path = self.path(table)
        if not path.is_dir():
            raise VeilleError(f"mart {table} is missing on Spark ({path}): build it first "
                              "(veille dbt build --target spark)")
        dataset = ds.dataset(path, format="parquet", exclude_invalid_files=True)
        condition = None
        for column, values in (where or {}).items():
            term = ds.field(column).isin(list(values))
            condition = term if condition is None else condition & term
        return dataset.to_table(filter=condition).to_pandas()


def marts_for(target: str, conn: sa.Connection | None = None) -> Marts:
    """The marts built by dbt target ``target`` (default: PostgreSQL, spark: Spark)."""
    if target == "spark":
        return SparkMarts()
    if target == "default":
        if conn is None:
            raise VeilleError("reading the PostgreSQL marts needs a database connection")
        return PostgresMarts(conn)
    raise VeilleError(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
