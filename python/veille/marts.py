"""Reading the marts, whichever engine built them (docs/spark.md).

The studies, scan, pathways and fraud jobs read dbt's marts as DataFrames through ``Marts.read``
(and a column's values through ``Marts.distinct``). ``PostgresMarts`` reads them with SQL from the
warehouse database; ``SparkMarts`` from the Parquet files of the Spark target's tables
(``$VEILLE_SPARK_HOME/warehouse/<schema>.db/<table>``, or ``VEILLE_SPARK_WAREHOUSE`` for a
cluster's warehouse folder), and the source tables the models read (``claims.patient``) from the
flattened extract (``$VEILLE_PARQUET/<schema>/<table>``), filtered by PyArrow, so no Spark
session is needed to read them. ``marts_for(target)`` picks one by the dbt target name. Results
(runs, signals, alerts) are written to the PostgreSQL results schema whichever engine built the
marts: they are small, and the reports and the review workflow read them there.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import sqlalchemy as sa

from veille import db
from veille.errors import VeilleError
from veille.spark.flatten import TABLES as FLATTENED

# dbt targets (dbt_project/profiles.yml): PostgreSQL; Spark in this process (session); a Spark
# cluster through its Thrift server
TARGETS = ("default", "spark", "spark_cluster")


class Marts(Protocol):
    target: str

    def read(self, table: str, where: dict[str, Sequence] | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Rows of ``table`` (schema.table) whose columns hold one of the given values (all the
        columns, or only ``columns``)."""
        ...

    def distinct(self, table: str, column: str) -> list:
        """The distinct non-null values of one column, sorted."""
        ...


class PostgresMarts:
    target = "default"

    def __init__(self, conn: sa.Connection):
        self.conn = conn

    def _check(self, table: str) -> str:
        schema, name = table.split(".")
        if self.conn.execute(sa.text("select to_regclass(:t)"), {"t": table}).scalar() is None:
            raise VeilleError(f"mart {table} is missing: build the dbt project first (veille dbt build)")
        return f'"{schema}"."{name}"'

    def read(self, table: str, where: dict[str, Sequence] | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        relation = self._check(table)
        conditions = [f"{column} = any(:v{i})" for i, column in enumerate(where or {})]
        params = {f"v{i}": list(values) for i, values in enumerate((where or {}).values())}
        listed = ", ".join(f'"{c}"' for c in columns) if columns else "*"
        sql = f"select {listed} from {relation}" + (" where " + " and ".join(conditions) if conditions else "")
        return pd.read_sql(sa.text(sql), self.conn, params=params)

    def distinct(self, table: str, column: str) -> list:
        relation = self._check(table)
        return list(self.conn.execute(sa.text(
            f'select distinct "{column}" from {relation} where "{column}" is not null order by 1')).scalars())


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
        """The folder of a table dbt built on Spark."""
        schema, name = table.split(".")
        return self.warehouse / f"{schema}.db" / name

    def _dataset(self, table: str) -> ds.Dataset:
        """A table dbt built on Spark, or one of the extract's tables (FLATTENED) from VEILLE_PARQUET."""
        path = self.path(table)
        if not path.is_dir():
            schema, name = table.split(".")
            source = Path(os.environ.get("VEILLE_PARQUET", "")) / schema / name
            if table not in FLATTENED or not os.environ.get("VEILLE_PARQUET") or not source.is_dir():
                raise VeilleError(f"mart {table} is missing on Spark ({path}): build it first "
                                  "(veille dbt build --target spark)")
            path = source
        return ds.dataset(path, format="parquet", exclude_invalid_files=True)

    def read(self, table: str, where: dict[str, Sequence] | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        condition = None
        for column, values in (where or {}).items():
            term = ds.field(column).isin(list(values))
            condition = term if condition is None else condition & term
        return self._dataset(table).to_table(filter=condition, columns=list(columns) if columns else None).to_pandas()

    def pg_types(self, table: str) -> dict[str, str]:
        """The PostgreSQL type of each column of ``table`` but its arrays."""
        out = {}
        for field in self._dataset(table).schema:
            t = field.type
            kind = ("boolean" if pa.types.is_boolean(t) else "bigint" if pa.types.is_integer(t)
                    else "double precision" if pa.types.is_floating(t) else "numeric" if pa.types.is_decimal(t)
                    else "date" if pa.types.is_date(t) else "timestamp" if pa.types.is_timestamp(t)
                    else "text" if pa.types.is_string(t) or pa.types.is_large_string(t) else None)
            if kind:
                out[field.name] = kind
        return out

    def distinct(self, table: str, column: str) -> list:
        values = pc.unique(self._dataset(table).to_table(columns=[column])[column]).drop_null()
        return sorted(values.to_pylist())


def stage(conn: sa.Connection, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """``frame`` as the temporary table pg_temp.``name`` of this PostgreSQL session (replaced if
    it exists) with the columns and PostgreSQL types of ``types`` (SparkMarts.pg_types), loaded
    by COPY: SQL written for the PostgreSQL marts then reads rows that Spark built."""
    ddl = ", ".join(f'"{c}" {t}' for c, t in types.items())
    conn.execute(sa.text(f'drop table if exists pg_temp."{name}"'))
    conn.execute(sa.text(f'create temporary table "{name}" ({ddl})'))
    buf = io.StringIO()
    frame[list(types)].to_csv(buf, index=False, header=False, na_rep="")
    listed = ", ".join(f'"{c}"' for c in types)
    with (conn.connection.driver_connection.cursor() as cur,
          cur.copy(f'copy pg_temp."{name}" ({listed}) from stdin with (format csv)') as cp):
        cp.write(buf.getvalue())


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise VeilleError(f"unknown target {target!r}: expected one of {', '.join(TARGETS)}")
    return target


def dbt_target_args(target: str) -> list[str]:
    """The dbt arguments that build on ``target``. On spark, the registries just written to
    PostgreSQL (studies, pathways indicators) are first copied to the Parquet it reads."""
    if check_target(target) == "default":
        return []
    if target == "spark_cluster":
        marts_for(target)  # the warehouse folder is known before anything is built
    from veille.spark.flatten import export_registry

    export_registry()
    return ["--target", target]


def marts_for(target: str, conn: sa.Connection | None = None) -> Marts:
    """The marts built by dbt target ``target`` (default: PostgreSQL, spark or spark_cluster:
    Spark; the cluster's warehouse folder must be given as VEILLE_SPARK_WAREHOUSE)."""
    if check_target(target) == "spark_cluster" and not os.environ.get("VEILLE_SPARK_WAREHOUSE"):
        raise VeilleError("the spark_cluster target's tables are read from its warehouse folder: set "
                          "VEILLE_SPARK_WAREHOUSE to the Thrift server's spark.sql.warehouse.dir (docs/spark.md)")
    if target != "default":
        return SparkMarts()
    if conn is None:
        raise VeilleError("reading the PostgreSQL marts needs a database connection")
    return PostgresMarts(conn)
