"""`veille flatten`: the warehouse's input tables as Parquet, for the Spark target (docs/spark.md).

The cleaning and rejection rules are the loader's, not a second copy of them: an extract is
loaded by `veille load` (into a scratch database of the current server, dropped afterwards, or
the warehouse itself with ``from_warehouse``), then every table the dbt sources read is copied
out with PostgreSQL's COPY and written by PyArrow. DCIR is flattened as the loader normalizes
it: each drug line joined to its service line (`claims.dispensing`, ER_PRS_F x ER_PHA_F, net of
regularisations), and likewise the CCAM acts and lab tests; PMSI as stays, diagnoses and acts.

Layout of OUT: ``<schema>/<table>/`` per table, one Parquet file per care year for the claims
tables with an event date (``part-2019.parquet``, rows sorted by patient and date), one file
otherwise; the rejected rows and the load log in ``meta/``; ``manifest.json`` lists each table's
columns, types and rows.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from veille import db
from veille.errors import VeilleError

# schema.table -> the date that splits it into one file per care year (None: one file)
TABLES: dict[str, str | None] = {
    "claims.patient": None,
    "claims.provider": None,
    "claims.dispensing": "dispensing_date",
    "claims.medical_act": "act_date",
    "claims.lab_test": "test_date",
    "claims.service_line": "service_date",
    "claims.hospital_stay": "admission_date",
    "claims.stay_diagnosis": None,
    "claims.stay_act": None,
    "claims.ald": None,
    "ref.drug": None,
    "ref.icd10": None,
    "ref.ccam": None,
    "ref.nabm": None,
    "meta.load_run": None,
    "meta.load_batch": None,
    "meta.rejected_row": None,
    # the registries the dbt sources read (written by `veille study` and `veille pathways`)
    "study.cohort_definition": None,
    "study.cohort_outcome": None,
    "study.cohort_exposure_category": None,
    "study.sccs_definition": None,
    "study.sccs_drug": None,
    "study.sccs_outcome": None,
    "study.sccs_window": None,
    "results.pathways_indicator_definition": None,
    "results.pathways_indicator_item": None,
}
# the order each claims table's rows are written in (Parquet row groups then skip by patient)
ORDER = {"claims.stay_diagnosis": "stay_id, role, icd10", "claims.stay_act": "stay_id, stay_act_id",
         "claims.provider": "provider_id", "meta.rejected_row": "batch_id, line_number"}


@dataclass
class FlattenSummary:
    out: Path
    tables: dict[str, int] = field(default_factory=dict)  # schema.table -> rows
    files: int = 0
    seconds: float = 0.0


def arrow_type(data_type: str, precision: int | None, scale: int | None) -> pa.DataType:
    """The Arrow type of a PostgreSQL column (information_schema.columns.data_type)."""
    simple = {
        "bigint": pa.int64(), "integer": pa.int32(), "smallint": pa.int16(), "date": pa.date32(),
        "double precision": pa.float64(), "real": pa.float32(), "boolean": pa.bool_(),
        "timestamp with time zone": pa.timestamp("us", tz="UTC"), "timestamp without time zone": pa.timestamp("us"),
        "text": pa.string(), "character varying": pa.string(), "character": pa.string(), "jsonb": pa.string(),
        "json": pa.string(),
    }
    if data_type == "numeric":
        return pa.decimal128(precision or 38, scale or 0) if precision else pa.float64()
    if data_type in simple:
        return simple[data_type]
    raise VeilleError(f"flatten: no Parquet type for the PostgreSQL type {data_type!r}")


def _columns(conn, schema: str, table: str) -> list[tuple[str, str, str, int | None, int | None]]:
    """(name, data_type, udt_name, precision, scale) of each column, in table order."""
    return conn.execute(
        "select column_name, data_type, udt_name, numeric_precision, numeric_scale "
        "from information_schema.columns where table_schema = %s and table_name = %s "
        "order by ordinal_position", (schema, table)).fetchall()


def _export_arrays(conn, relation: str, columns) -> pa.Table:
    """A small table with array columns (the registries): read whole, arrays as lists."""
    names = [c[0] for c in columns]
    with conn.cursor() as cur:
        cur.execute(f"select {', '.join(names)} from {relation}")
        rows = cur.fetchall()
    arrays = []
    for i, (_, data_type, udt, precision, scale) in enumerate(columns):
        values = [r[i] for r in rows]
        if data_type == "ARRAY":
            item = pa.int32() if udt == "_int4" else pa.string()
            arrays.append(pa.array(values, type=pa.list_(item)))
        else:
            typ = arrow_type(data_type, precision, scale)
            if data_type in ("jsonb", "json"):
                values = [None if v is None else json.dumps(v, sort_keys=True) for v in values]
            arrays.append(pa.array(values, type=typ))
    return pa.Table.from_arrays(arrays, names=names)


def _copy_to_parquet(conn, query: str, schema: pa.Schema, path: Path) -> int:
    """COPY ``query`` out as CSV through a temporary file, parsed by Arrow with ``schema``'s types
    and written to ``path`` batch by batch: memory stays that of a batch, whatever the table."""
    with tempfile.NamedTemporaryFile(suffix=".csv", dir=path.parent) as tmp:
        with conn.cursor() as cur, cur.copy(f"copy ({query}) to stdout (format csv)") as copy:
            for chunk in copy:
                tmp.write(chunk)
        tmp.flush()
        if Path(tmp.name).stat().st_size == 0:
            pq.write_table(schema.empty_table(), path, compression="zstd")
            return 0
        reader = pacsv.open_csv(
            tmp.name,
            read_options=pacsv.ReadOptions(column_names=schema.names, block_size=64 << 20),
            convert_options=pacsv.ConvertOptions(column_types=schema, strings_can_be_null=True,
                                                 true_values=["t"], false_values=["f"],
                                                 quoted_strings_can_be_null=False),
        )
        rows = 0
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch.cast(schema) if batch.schema != schema else batch)
                rows += batch.num_rows
    return rows


def export_tables(out: Path, *, echo: Callable[[str], object] = print) -> FlattenSummary:
    """Write every table of TABLES from the current database to ``out``. The tables are written
    to a folder beside it, which replaces ``out`` once all are written: a failed flatten leaves
    ``out`` as it was."""
    started = time.perf_counter()
    final = Path(out).resolve()
    final.parent.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        summary = _export_tables(out, echo)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    if final.exists():
        old = final.with_name(f".{final.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        out.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        out.rename(final)
    summary.out = final
    summary.seconds = time.perf_counter() - started
    return summary


def _export_table(conn, name: str, date_column: str | None, folder: Path) -> tuple[int, int, pa.Schema]:
    """Write table ``name`` into ``folder`` (made): its rows, files and Arrow schema."""
    schema, table = name.split(".")
    columns = _columns(conn, schema, table)
    if not columns:
        raise VeilleError(f"flatten: the database has no table {name} (run `veille migrate` first)")
    folder.mkdir(parents=True, exist_ok=True)
    relation = f'"{schema}"."{table}"'
    if any(c[1] == "ARRAY" for c in columns):
        data = _export_arrays(conn, relation, columns)
        pq.write_table(data, folder / "part-0.parquet", compression="zstd")
        return data.num_rows, 1, data.schema
    arrow_schema = pa.schema([(c[0], arrow_type(c[1], c[3], c[4])) for c in columns])
    select = ", ".join(f'"{c[0]}"::text' if c[1] in ("jsonb", "json") else f'"{c[0]}"' for c in columns)
    order = ORDER.get(name) or ("patient_id, " + date_column if date_column else columns[0][0])
    years = [y for (y,) in conn.execute(
        f"select distinct extract(year from {date_column})::int from {relation} order by 1")] if date_column else [None]
    rows = 0
    for year in years or [None]:
        where = (f" where {date_column} >= make_date({year}, 1, 1) "
                 f"and {date_column} < make_date({year + 1}, 1, 1)") if year else ""
        path = folder / (f"part-{year}.parquet" if year else "part-0.parquet")
        rows += _copy_to_parquet(conn, f"select {select} from {relation}{where} order by {order}", arrow_schema, path)
    return rows, len(years or [None]), arrow_schema


def _export_tables(out: Path, echo: Callable[[str], object]) -> FlattenSummary:
    summary = FlattenSummary(out=out)
    manifest: dict[str, dict] = {}
    with db.raw_connection() as conn:
        for name, date_column in TABLES.items():
            schema, table = name.split(".")
            rows, files, arrow_schema = _export_table(conn, name, date_column, out / schema / table)
            manifest[name] = {"rows": rows, "files": files,
                              "columns": {f.name: str(f.type) for f in arrow_schema}}
            summary.tables[name] = rows
            summary.files += files
            echo(f"  {name:<40} {rows:>12,} rows  {files:>3} file{'s' if files != 1 else ''}")
    (out / "manifest.json").write_text(json.dumps({"tables": manifest}, indent=2) + "\n")
    return summary


REGISTRIES = tuple(t for t in TABLES if t.startswith(("study.", "results.")))


def export_registry(root: Path | None = None) -> None:
    """Copy the study and pathways registries of the current database into the Parquet folder
    of an earlier flatten (``root``, default VEILLE_PARQUET): what `veille study run --target
    spark` writes before its build. Each table's folder is replaced whole once written."""
    import os

    root = root or (Path(os.environ["VEILLE_PARQUET"]) if os.environ.get("VEILLE_PARQUET") else None)
    if root is None or not (root / "manifest.json").is_file():
        raise VeilleError("the spark target reads the Parquet of `veille flatten`: set VEILLE_PARQUET to "
                          "the folder it wrote")
    with db.raw_connection() as conn:
        for name in REGISTRIES:
            schema, table = name.split(".")
            final = root / schema / table
            tmp = root / schema / f".{table}-new"
            shutil.rmtree(tmp, ignore_errors=True)
            _export_table(conn, name, None, tmp)
            shutil.rmtree(final, ignore_errors=True)
            tmp.rename(final)


def flatten(extract: Path | None, out: Path, *, echo: Callable[[str], object] = print) -> FlattenSummary:
    """Load ``extract`` with the loader's rules into a scratch database (dropped afterwards) and
    write its tables to ``out``; with ``extract`` None, write the current warehouse's tables."""
    from veille import migrate

    if extract is None:
        return export_tables(out, echo=echo)
    from veille.benchkit import scratch_database
    from veille.load import load_extract

    with scratch_database("veille_flatten"):
        migrate.upgrade()
        echo(f"loading {extract} (the loader's rules: rejected rows go to meta/rejected_row)")
        load_extract(extract)
        echo(f"writing {out}")
        return export_tables(out, echo=echo)
