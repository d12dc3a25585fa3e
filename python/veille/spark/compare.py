"""Row-by-row comparison of the tables dbt built on PostgreSQL and on Spark (docs/spark.md).

The Spark side is read from its warehouse folder (veille.marts.SparkMarts), without starting
Spark. Values are
compared after a normalisation that only removes what the two engines spell differently:
numbers as floats rounded to 9 significant digits (numeric against decimal, double against
double), dates as dates, arrays as tuples; rows in any order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from veille import db
from veille.marts import SparkMarts

SCHEMAS = ("intermediate", "marts", "pathways", "scan")


@dataclass
class TableComparison:
    table: str  # schema.table
    pg_rows: int
    spark_rows: int | None  # None: not built on Spark
    equal: bool
    detail: str = ""


def _number(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    f = float(v)
    if f == 0 or math.isinf(f):
        return f
    return float(f"{f:.9g}")


def normal(v):
    """One value in a form both engines' values map to."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) or type(v).__name__ in ("Decimal", "int64", "int32", "float64", "int16"):
        return _number(v)
    if isinstance(v, pd.Timestamp):
        return v.date() if v == v.normalize() and v.tzinfo is None else v.to_pydatetime()
    if isinstance(v, (list, tuple)) or type(v).__name__ == "ndarray":
        return tuple(normal(x) for x in v)
    return v


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    out = [tuple(normal(v) for v in row) for row in frame[columns].itertuples(index=False, name=None)]
    return sorted(out, key=lambda r: tuple((x is None, str(type(x)), x if x is not None else 0) for x in r))


def compare_table(conn, schema: str, table: str, skip: tuple[str, ...] = ()) -> TableComparison:
    name = f"{schema}.{table}"
    pg = pd.read_sql_query(f'select * from "{schema}"."{table}"', conn)
    spark = SparkMarts()
    if not spark.path(name).is_dir():
        return TableComparison(name, len(pg), None, False, "not built on Spark")
    sp = spark.read(name)
    pg_cols = [c for c in pg.columns if c not in skip]
    sp_cols = [c for c in sp.columns if c not in skip]
    if set(pg_cols) != set(sp_cols):
        return TableComparison(name, len(pg), len(sp), False,
                               f"columns differ: only PostgreSQL {sorted(set(pg_cols) - set(sp_cols))}, "
                               f"only Spark {sorted(set(sp_cols) - set(pg_cols))}")
    a, b = _rows(pg, pg_cols), _rows(sp, pg_cols)
    if a == b:
        return TableComparison(name, len(pg), len(sp), True)
    sa, sb = set(a), set(b)
    only_pg = [r for r in a if r not in sb][:1]
    only_sp = [r for r in b if r not in sa][:1]
    detail = f"{len(a)} rows against {len(b)}"
    if only_pg or only_sp:
        detail += f"; e.g. PostgreSQL {dict(zip(pg_cols, only_pg[0]))}" if only_pg else ""
        detail += f"; Spark {dict(zip(pg_cols, only_sp[0]))}" if only_sp else ""
    return TableComparison(name, len(pg), len(sp), False, detail)


def compare_warehouses(schemas: tuple[str, ...] = SCHEMAS, tables: list[str] | None = None,
                       skip: tuple[str, ...] = ()) -> list[TableComparison]:
    """Every table dbt built on PostgreSQL in ``schemas`` (or only ``tables``, schema.table),
    against the same table on Spark."""
    with db.engine().connect() as conn:
        names = conn.exec_driver_sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = any(%(s)s) and table_type = 'BASE TABLE' "
            "and table_name <> 'refresh_watermark' order by 1, 2", {"s": list(schemas)}).fetchall()
        out = []
        for schema, table in names:
            if tables is not None and f"{schema}.{table}" not in tables:
                continue
            out.append(compare_table(conn, schema, table, skip))
    return out
