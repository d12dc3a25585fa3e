"""Row-by-row comparison of the tables dbt built on PostgreSQL and on Spark (docs/spark.md).

The Spark side is read from its warehouse folder (veille.marts.SparkMarts), without starting
Spark. Values are compared after a normalisation that only removes what the two engines spell
differently: numbers as floats rounded to 9 significant digits (numeric against decimal, double
against double), dates and timestamps as instants, arrays as tuples; rows in any order.

Both tables are streamed in chunks of rows and each row is reduced to a 64-bit hash of its
normalised values, so the memory a comparison needs grows with 8 bytes per row, not with the
table: two tables are equal when their sorted hashes are. When they differ, a second pass finds
one row of each side that the other lacks, for the message.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from veille import db
from veille.marts import SparkMarts

SCHEMAS = ("intermediate", "marts", "pathways", "scan")
CHUNK = 250_000
_NULL = "\x00null"


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
    return float(_round9(np.array([float(v)]))[0])


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


def _kinds(conn, schema: str, table: str) -> dict[str, str]:
    """How each column of a PostgreSQL table is compared: number, instant, array or text."""
    rows = conn.exec_driver_sql(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = %(s)s and table_name = %(t)s order by ordinal_position",
        {"s": schema, "t": table}).fetchall()
    number = ("smallint", "integer", "bigint", "numeric", "real", "double precision", "boolean")
    return {c: "number" if t in number else "instant" if t.startswith(("date", "timestamp"))
            else "array" if t == "ARRAY" else "text" for c, t in rows}


def _round9(x: np.ndarray) -> np.ndarray:
    """Floats rounded to 9 significant digits, with one zero and one NaN."""
    x = np.asarray(x, dtype="float64") + 0.0  # -0.0 becomes 0.0
    out = x.copy()
    m = np.isfinite(x) & (x != 0)
    scale = 10.0 ** (8 - np.floor(np.log10(np.abs(x[m]))))
    fine = np.isfinite(scale)
    rounded = np.round(x[m] * np.where(fine, scale, 1.0)) / np.where(fine, scale, 1.0)
    out[m] = np.where(fine, rounded, x[m])
    out[np.isnan(x)] = np.nan
    return out


def _canonical(s: pd.Series, kind: str) -> pd.Series:
    """One column in the form both engines' values map to (vectorised but for arrays)."""
    if kind == "number":
        if s.dtype == object:
            s = s.map(lambda v: None if v is None else float(v))
        return pd.Series(_round9(s.astype("float64").to_numpy()), index=s.index)
    if kind == "instant":
        t = pd.to_datetime(s)
        if getattr(t.dt, "tz", None) is not None:
            t = t.dt.tz_convert("UTC").dt.tz_localize(None)
        ns = t.astype("datetime64[ns]").astype("int64").astype("float64")
        return pd.Series(np.where(t.isna(), np.nan, ns), index=s.index)
    if kind == "array":
        return s.map(lambda v: _NULL if v is None or (isinstance(v, float) and math.isnan(v))
                     else repr(tuple(normal(x) for x in v)))
    return s.astype(object).where(s.notna(), _NULL).map(str)


def _chunks(frames: Iterator[pd.DataFrame], kinds: dict[str, str]
            ) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, np.ndarray]]:
    """Each chunk of rows, normalised, with one 64-bit hash per row of its normalised values."""
    for frame in frames:
        canon = pd.DataFrame({c: _canonical(frame[c], k) for c, k in kinds.items()}, index=frame.index)
        yield frame, canon, pd.util.hash_pandas_object(canon, index=False).to_numpy()


def _pg_frames(schema: str, table: str, columns: list[str]) -> Iterator[pd.DataFrame]:
    listed = ", ".join(f'"{c}"' for c in columns)
    sql = f'select {listed} from "{schema}"."{table}"'
    with db.engine().connect() as stream:
        stream = stream.execution_options(stream_results=True, max_row_buffer=CHUNK)
        yield from pd.read_sql_query(sa.text(sql), stream, chunksize=CHUNK)


def _spark_frames(spark: SparkMarts, name: str, columns: list[str]) -> Iterator[pd.DataFrame]:
    for batch in spark._dataset(name).to_batches(columns=columns, batch_size=CHUNK):
        if batch.num_rows:
            yield batch.to_pandas()


def _rows_in(chunks, wanted: np.ndarray, limit: int = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to ``limit`` rows whose hash is in ``wanted``: as read, and normalised."""
    raw: list[pd.DataFrame] = []
    canon: list[pd.DataFrame] = []
    found = 0
    for frame, normalised, hashes in chunks:
        hit = np.flatnonzero(np.isin(hashes, wanted))[:limit - found]
        raw.append(frame.iloc[hit])
        canon.append(normalised.iloc[hit])
        found += hit.size
        if found >= limit:
            break
    return pd.concat(raw), pd.concat(canon)


def _show(row: pd.Series) -> str:
    return "{" + ", ".join(f"{c}={normal(v)}" for c, v in row.items()) + "}"


def _first_difference(pg: tuple[pd.DataFrame, pd.DataFrame], spark: tuple[pd.DataFrame, pd.DataFrame]) -> str:
    """The first PostgreSQL row that Spark lacks, beside the Spark row most like it (the most
    equal columns), naming the columns where they differ."""
    (pg_raw, pg_canon), (sp_raw, sp_canon) = pg, spark
    first = pg_canon.iloc[0]
    same = sp_canon.eq(first) | (sp_canon.isna() & first.isna())
    j = int(np.argmax(same.sum(axis=1).to_numpy()))
    differ = [c for c in pg_canon.columns if not same.iloc[j][c]]
    return (f"e.g. PostgreSQL {_show(pg_raw.iloc[0])}; the closest Spark row differs in "
            + ", ".join(f"{c} ({normal(pg_raw.iloc[0][c])} against {normal(sp_raw.iloc[j][c])})" for c in differ))


def compare_table(conn, schema: str, table: str, skip: tuple[str, ...] = ()) -> TableComparison:
    name = f"{schema}.{table}"
    kinds = {c: k for c, k in _kinds(conn, schema, table).items() if c not in skip}
    pg_rows = conn.exec_driver_sql(f'select count(*) from "{schema}"."{table}"').scalar_one()
    spark = SparkMarts()
    if not spark.path(name).is_dir():
        return TableComparison(name, pg_rows, None, False, "not built on Spark")
    dataset = spark._dataset(name)
    sp_cols = [c for c in dataset.schema.names if c not in skip]
    spark_rows = dataset.count_rows()
    if set(kinds) != set(sp_cols):
        return TableComparison(name, pg_rows, spark_rows, False,
                               f"columns differ: only PostgreSQL {sorted(set(kinds) - set(sp_cols))}, "
                               f"only Spark {sorted(set(sp_cols) - set(kinds))}")
    columns = list(kinds)

    def pg_chunks():
        return _chunks(_pg_frames(schema, table, columns), kinds)

    def spark_chunks():
        return _chunks(_spark_frames(spark, name, columns), kinds)

    a = np.sort(np.concatenate([h for *_, h in pg_chunks()] or [np.empty(0, "uint64")]))
    b = np.sort(np.concatenate([h for *_, h in spark_chunks()] or [np.empty(0, "uint64")]))
    if a.shape == b.shape and np.array_equal(a, b):
        return TableComparison(name, pg_rows, spark_rows, True)
    only_pg, only_sp = np.setdiff1d(a, b), np.setdiff1d(b, a)
    detail = f"{len(a)} rows against {len(b)}"
    if only_pg.size and only_sp.size:
        detail += f", {only_pg.size} of them differ; " + _first_difference(
            _rows_in(pg_chunks(), only_pg), _rows_in(spark_chunks(), only_sp))
    elif only_pg.size:
        detail += f"; only on PostgreSQL: {_show(_rows_in(pg_chunks(), only_pg, 1)[0].iloc[0])}"
    elif only_sp.size:
        detail += f"; only on Spark: {_show(_rows_in(spark_chunks(), only_sp, 1)[0].iloc[0])}"
    else:
        detail += "; the same rows, repeated a different number of times"
    return TableComparison(name, pg_rows, spark_rows, False, detail)


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
