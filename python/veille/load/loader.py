"""`veille load DIR`: an SNDS extract into the claims schema, all of it or nothing.

1. every file is checked (table, header, encoding, binary) before the database is touched;
2. each new file is COPY'd as text into unlogged landing tables (veille.load.landing), by one
   session per core; then, in one transaction, in a work schema made and dropped inside it,
3. set-based SQL (normalize.sql) parses, cleans, links and inserts, writing the rows that break
   the contract to meta.rejected_row with their reason;
4. meta.load_batch records each file (checksum, flow month, counts, timings); commit.

A file whose checksum is already in meta.load_batch is skipped (and said so), so loading the
same folder twice changes nothing and a later monthly flow appends.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path

import psycopg
from psycopg import sql

from veille import db
from veille.errors import LoadError
from veille.load.files import ExtractFile, discover
from veille.load.landing import (
    BAD_LINES,
    LANDING_SCHEMA,
    create_landing,
    default_sessions,
    drop_landing,
    land,
    landing_name,
    landing_tables,
)
from veille.load.spec import DATE_COLUMNS, INT_COLUMNS, MONTH_COLUMNS, NUM_COLUMNS, SPECS

_LOCK_KEY = 4_242_001
WORK_SCHEMA = "load_work"


@dataclass
class FileResult:
    file: str
    table: str
    batch_id: int | None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_dropped: int = 0
    copy_seconds: float = 0.0
    skipped: bool = False
    flow_months: tuple[date, date] | None = None  # first and last FLX_DIS_DTD month (DCIR files)
    care_months: tuple[date, date] | None = None  # first and last EXE_SOI_DTD month (ER_PRS_F files)


@dataclass
class LoadSummary:
    directory: Path
    files: list[FileResult] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    rejected_by_reason: Counter = field(default_factory=Counter)
    dropped_by_reason: Counter = field(default_factory=Counter)
    step_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # kept rows worth a word (e.g. packs without dosage)

    @property
    def loaded_files(self) -> list[FileResult]:
        return [f for f in self.files if not f.skipped]

    def totals(self) -> dict[str, int]:
        fs = self.loaded_files
        return {
            "read": sum(f.rows_read for f in fs),
            "loaded": sum(f.rows_loaded for f in fs),
            "dropped": sum(f.rows_dropped for f in fs),
            "rejected": sum(f.rows_rejected for f in fs),
        }


DOSAGE_COLUMNS = ("PHA_DOS_PRA_DSES", "PHA_DOS_UNT_DSES")


def _dosage_notes(cur: psycopg.Cursor, new: list[tuple[ExtractFile, int]]) -> list[str]:
    """What the load says about the packs' dosages (issue 26): a referential file without the
    dosage columns, and the packs it brings whose dosage is missing or not a number; they are
    loaded (their exposure days do not need a dose), never given a guessed dose."""
    notes = []
    pha = [(f, b) for f, b in new if f.table == "IR_PHA_R"]
    for f, _ in pha:
        missing = [c for c in DOSAGE_COLUMNS if c not in f.header]
        if missing:
            notes.append(f"{f.name}: no {' or '.join(missing)} column: its packs have no dosage, "
                         "so no dose per dispensing (the dose marts stay empty for them)")
    with_columns = [b for f, b in pha if all(c in f.header for c in DOSAGE_COLUMNS)]
    if with_columns:
        empty, bad = cur.execute(
            "select count(*) filter (where d.dosage_text is null), "
            "count(*) filter (where d.dosage_text is not null and d.dosage is null) "
            "from ref.drug d where d.cip13 in (select btrim(pha_cip_c13) from src_ir_pha_r "
            "where _batch = any(%s))", (with_columns,)).fetchone()
        if empty or bad:
            notes.append(f"IR_PHA_R: {empty + bad:,} pack(s) without a usable dosage ({empty:,} missing, "
                         f"{bad:,} not a positive number; see ref.drug.dosage_text): they get no dose")
    return notes


def _sql_text(name: str) -> str:
    return resources.files("veille.load").joinpath(name).read_text()


def _steps(text: str) -> list[tuple[str, str]]:
    parts = re.split(r"^-- step: (.+)$", text, flags=re.MULTILINE)
    return [(parts[i].strip(), parts[i + 1]) for i in range(1, len(parts), 2)]


def _open_work_schema(cur: psycopg.Cursor) -> None:
    """The load's scratch space: a schema made and dropped inside the load's transaction, so
    that nothing of it outlives the load, even a killed one. Its tables are unlogged tables
    rather than temporary ones: they live in shared buffers (temp_buffers is small), and
    PostgreSQL can scan and join them with parallel workers, which it never does for temporary
    tables. Loads are serialised by an advisory lock, so one name is enough. The landing
    tables (:mod:`veille.load.landing`) come next on the search path."""
    work = sql.Identifier(WORK_SCHEMA)
    cur.execute(sql.SQL("drop schema if exists {} cascade").format(work))
    cur.execute(sql.SQL("create schema {}").format(work))
    cur.execute(sql.SQL("set local search_path = {}, {}, public").format(work, sql.Identifier(LANDING_SCHEMA)))


_DICTS = (  # (columns, dictionary, parsed columns of the distinct value s, output columns)
    ("date", "dict_date", "load_work.d(s) as d, load_work.raw_date(s) is null as bad",
     (("d", "date"), ("bad", "boolean"))),
    ("int", "dict_int", "load_work.int(s) as i, load_work.int(s) is null as bad", (("i", "int"), ("ibad", "boolean"))),
    ("month", "dict_month",
     "load_work.int(right(btrim(s), 2)) as i, load_work.int(right(btrim(s), 2)) is null as bad",
     (("i", "int"), ("ibad", "boolean"))),
    ("num", "dict_num", "load_work.num(s) as n", (("n", "numeric"),)),
)


def _kind(column: str) -> str | None:
    if column in DATE_COLUMNS:
        return "date"
    if column in INT_COLUMNS:
        return "int"
    if column in MONTH_COLUMNS:
        return "month"
    if column in NUM_COLUMNS:
        return "num"
    return None


def _present_columns(new: list[tuple[ExtractFile, int]]) -> dict[str, set[str]]:
    present: dict[str, set[str]] = {}
    for f, _ in new:
        present.setdefault(f.table, set()).update(f.header)
    return present


def _fill_dictionaries(cur: psycopg.Cursor, new: list[tuple[ExtractFile, int]]) -> None:
    """Parse every distinct value of the typed columns once: one dictionary per kind (dates,
    integers, months, amounts), made by one statement that PostgreSQL runs with parallel workers
    (a create-table-as, where an insert-select would run on one core)."""
    for kind, table, parse, _ in _DICTS:
        parts = []
        for table_name, present in _present_columns(new).items():
            for c in SPECS[table_name].columns:
                if c in present and _kind(c) == kind:
                    parts.append(sql.SQL("select {} as s from {}").format(
                        sql.Identifier(c.lower()), sql.Identifier(landing_name(table_name))))
        values = sql.SQL(" union all ").join(parts) if parts else sql.SQL("select null::text as s")
        cur.execute(sql.SQL("create unlogged table {} as select s, {} from "
                            "(select distinct s from ({}) v where s is not null) d").format(
            sql.Identifier(table), sql.SQL(parse), values))
        cur.execute(sql.SQL("analyze {}").format(sql.Identifier(table)))


def _typed_columns(c: str, have: bool, alias: str) -> list[sql.Composable]:
    """The select-list entries of one column (raw text, plus parsed value and flag when typed)."""
    col = sql.Identifier(c.lower())
    kind = _kind(c)
    out: list[sql.Composable] = [
        sql.SQL("l.{}").format(col) if have else sql.SQL("null::text as {}").format(col)]
    if kind is None:
        return out
    outputs = next(o for k, _, _, o in _DICTS if k == kind)
    for name, typ in outputs:
        target = sql.Identifier(f"{c.lower()}__{name}")
        if have:
            src = name if name != "ibad" else "bad"
            expr = sql.SQL("coalesce({a}.{n}, false)" if typ == "boolean" else "{a}.{n}").format(
                a=sql.Identifier(alias), n=sql.Identifier(src))
            out.append(sql.SQL("{} as {}").format(expr, target))
        else:
            out.append(sql.SQL("{}::{} as {}").format(
                sql.SQL("false" if typ == "boolean" else "null"), sql.SQL(typ), target))
    return out


def _source_views(cur: psycopg.Cursor, new: list[tuple[ExtractFile, int]]) -> None:
    """One view per table over its landed files, with typed columns joined from dictionaries."""
    present_by_table = _present_columns(new)
    for name, spec in SPECS.items():
        selects = []
        if name in present_by_table:
            have = present_by_table[name]
            cols: list[sql.Composable] = []
            joins: list[sql.Composable] = []
            for i, c in enumerate(spec.columns):
                alias = f"x{i}"
                cols += _typed_columns(c, c in have, alias)
                kind = _kind(c)
                if kind and c in have:
                    table = next(t for k, t, _, _ in _DICTS if k == kind)
                    joins.append(sql.SQL("left join {t} {a} on {a}.s = l.{c}").format(
                        t=sql.Identifier(table), a=sql.Identifier(alias), c=sql.Identifier(c.lower())))
            years = {b: f.pmsi_year or 0 for f, b in new if f.table == name}
            year = (sql.Literal(next(iter(years.values()))) if len(set(years.values())) == 1 else
                    sql.SQL("case l._batch {} end").format(sql.SQL(" ").join(
                        sql.SQL("when {} then {}").format(sql.Literal(b), sql.Literal(y))
                        for b, y in years.items())))
            selects.append(
                sql.SQL("select l._batch, l._line, "
                        "{y}::int as _year, {cols} from {t} l {joins}").format(
                    y=year, cols=sql.SQL(", ").join(cols),
                    t=sql.Identifier(landing_name(name)), joins=sql.SQL(" ").join(joins),
                )
            )
        else:
            cols = []
            for c in spec.columns:
                cols += _typed_columns(c, False, "")
            selects.append(sql.SQL(
                "select null::bigint as _batch, null::bigint as _line, "
                "0 as _year, {} where false").format(sql.SQL(", ").join(cols)))
        view = sql.Identifier("src_" + name.lower())
        cur.execute(sql.SQL("create view {} as {}").format(view, sql.SQL(" union all ").join(selects)))


_FOREIGN_KEYS = """
select c.conrelid::regclass::text as child, a.attname as col,
       c.confrelid::regclass::text as parent, af.attname as pcol
from pg_constraint c
join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
join pg_attribute af on af.attrelid = c.confrelid and af.attnum = c.confkey[1]
where c.contype = 'f' and c.connamespace = 'claims'::regnamespace and cardinality(c.conkey) = 1
order by 1, 2
"""


def _skip_row_triggers(cur: psycopg.Cursor) -> bool:
    """Bulk mode: no per-row foreign-key triggers during the load (they cost more than all the
    rest); the keys are checked set-based afterwards by :func:`_check_foreign_keys`. Needs a
    superuser (the embedded server); elsewhere the triggers stay on."""
    try:
        with cur.connection.transaction():
            cur.execute("set local session_replication_role = replica")
        return True
    except psycopg.errors.InsufficientPrivilege:
        return False


def _check_foreign_keys(cur: psycopg.Cursor) -> None:
    """Every foreign key of the rows inserted by this load (work tables ins_<table>) must resolve."""
    cur.execute("set local session_replication_role = origin")
    for child, col, parent, pcol in cur.execute(_FOREIGN_KEYS).fetchall():
        ins = "ins_" + child.split(".")[-1]
        has = cur.execute(
            "select 1 from pg_attribute where attrelid = to_regclass(%s) and attname = %s",
            (f"{WORK_SCHEMA}.{ins}", col)).fetchone()
        if not has:
            continue
        bad = cur.execute(sql.SQL(
            "select n.v::text from (select distinct {c} as v from {i}) n "
            "where n.v is not null and not exists (select 1 from {p} x where x.{pc} = n.v) limit 1").format(
            c=sql.Identifier(col), i=sql.Identifier(ins), p=sql.SQL(parent),
            pc=sql.Identifier(pcol))).fetchone()
        if bad:
            raise LoadError(f"internal check failed: {child}.{col} = {bad[0]} has no row in {parent}; "
                            "nothing was loaded (please report this)")


_SECONDARY_INDEXES = """
select i.indrelid::regclass::text, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
from pg_index i
join pg_class t on t.oid = i.indrelid
where t.relnamespace = 'claims'::regnamespace and not i.indisunique and not i.indisprimary
  and pg_has_role(current_user, t.relowner, 'USAGE')  -- only an owner may drop an index
order by 1, 2
"""


def _drop_indexes_of_empty_tables(cur: psycopg.Cursor) -> list[str]:
    """A first load writes into empty claims tables: their secondary indexes are dropped here
    and built once afterwards (:func:`_rebuild_indexes`), in bulk and with parallel workers,
    instead of being updated row by row. Inside the load's transaction, like everything else:
    a failed load leaves them as they were. Returns the statements that rebuild them."""
    statements = []
    empty: dict[str, bool] = {}
    for table, name, ddl in cur.execute(_SECONDARY_INDEXES).fetchall():
        if table not in empty:
            empty[table] = not cur.execute(
                sql.SQL("select exists (select 1 from {})").format(sql.SQL(table))).fetchone()[0]
        if empty[table]:
            cur.execute(sql.SQL("drop index {}").format(sql.SQL(name)))
            statements.append(ddl)
    return statements


def _rebuild_indexes(cur: psycopg.Cursor, statements: list[str]) -> None:
    for ddl in statements:
        cur.execute(ddl)


def _check_schema(conn: psycopg.Connection) -> None:
    ok, current = conn.execute(
        "select to_regclass('claims.dispensing') is not null, to_regclass('meta.load_run') is not null "
        "and exists (select 1 from information_schema.columns where table_schema = 'meta' "
        "and table_name = 'load_batch' and column_name = 'flow_month_last') "
        "and to_regclass('meta.load_change') is not null").fetchone()
    if not ok:
        raise LoadError("the database has no claims schema: run `veille migrate` first")
    if not current:
        raise LoadError("the database schema is older than this veille: run `veille migrate` first")


def _wait_for_other_loads(conn: psycopg.Connection) -> None:
    """Loads run one at a time: a session advisory lock, held until this connection closes. A load
    started while another runs says so on stderr and waits; it then skips every file the other
    loaded (same checksum). The server checks every second that the client is still there, so
    that a killed load's session ends, and frees the lock, within a second or so."""
    conn.execute("set client_connection_check_interval = '1s'")
    if conn.execute("select pg_try_advisory_lock(%s)", (_LOCK_KEY,)).fetchone()[0]:
        conn.commit()
        return
    holder = conn.execute(
        "select a.pid, to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') from pg_locks l "
        "join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and l.granted "
        "and l.classid = 0 and l.objid = %s", (_LOCK_KEY,)).fetchone()
    who = f" (server process {holder[0]}, connected {holder[1]})" if holder else ""
    print(f"another load is running{who}: waiting for it to finish", file=sys.stderr, flush=True)
    conn.execute("select pg_advisory_lock(%s)", (_LOCK_KEY,))
    conn.commit()


def _start_run(conn: psycopg.Connection, directory: Path) -> int:
    """Record the load in meta.load_run and commit, so that the log shows it even if it never
    ends. A row still 'running' is a load that was killed (this one holds the loads' lock, so
    none other runs): it becomes 'interrupted'."""
    conn.execute("update meta.load_run set status = 'interrupted', finished_at = now(), message = "
                 "'stopped before its end (killed or crashed): nothing of it was kept' where status = 'running'")
    run_id = conn.execute("insert into meta.load_run (extract_dir) values (%s) returning run_id",
                          (str(directory.resolve()),)).fetchone()[0]
    conn.commit()
    return run_id


def _end_run(conn: psycopg.Connection, run_id: int, status: str, message: str | None = None,
             loaded: int | None = None, skipped: int | None = None) -> None:
    """Close the run; commits unless ``status`` is 'done' (which commits with the load)."""
    conn.execute("update meta.load_run set status = %s, finished_at = now(), message = %s, "
                 "files_loaded = %s, files_skipped = %s where run_id = %s",
                 (status, message and message[:1000], loaded, skipped, run_id))
    if status != "done":
        conn.commit()


def load_extract(directory: Path | str, *, show_progress: bool = False, sessions: int | None = None,
                 append: bool = False) -> LoadSummary:
    """Load one extract folder. Raises LoadError (database unchanged) on a bad file.
    ``sessions``: how many connections COPY the files at once (default: one per core, at most 4).
    ``append``: the folder holds later flow months of the extract already loaded; a DCIR file
    whose flow months were loaded before (same table) stops the load."""
    directory = Path(directory)
    started = time.perf_counter()
    files, ignored = discover(directory)
    summary = LoadSummary(directory=directory, ignored=[p.name for p in ignored])
    summary.step_seconds["check files"] = time.perf_counter() - started

    with db.raw_connection(role=db.LOADER) as conn:
        _check_schema(conn)
        _wait_for_other_loads(conn)
        run_id = _start_run(conn, directory)
        try:
            _load_new_files(conn, directory, files, summary, sessions or default_sessions(), show_progress, run_id,
                            append)
        except BaseException as exc:
            conn.rollback()
            status = "failed" if isinstance(exc, Exception) else "interrupted"
            with contextlib.suppress(psycopg.Error):
                _end_run(conn, run_id, status, str(exc) if isinstance(exc, LoadError) else f"{type(exc).__name__}: {exc}")
            raise
        finally:
            drop_landing()
    summary.seconds = time.perf_counter() - started
    return summary


def _load_new_files(conn: psycopg.Connection, directory: Path, files: list[ExtractFile],
                    summary: LoadSummary, sessions: int, show_progress: bool, run_id: int,
                    append: bool = False) -> None:
    done = {
        r[0]: r[1]
        for r in conn.execute(
            "select checksum, batch_id from meta.load_batch where checksum = any(%s)",
            ([f.checksum for f in files],),
        ).fetchall()
    }
    seen: dict[str, str] = {}
    todo: list[ExtractFile] = []
    for f in files:
        if f.checksum in done or f.checksum in seen:
            summary.files.append(FileResult(f.name, f.table, done.get(f.checksum), skipped=True))
        else:
            seen[f.checksum] = f.name
            todo.append(f)
    if not todo:
        _end_run(conn, run_id, "done", "nothing new to load", 0, len(files))
        conn.commit()
        return

    now = datetime.now(UTC)
    with conn.cursor() as cur:
        new: list[tuple[ExtractFile, int]] = []
        for f in todo:
            cur.execute(
                "insert into meta.load_batch (extract_dir, file_name, table_name, checksum, "
                "rows_read, rows_loaded, rows_rejected, started_at, finished_at, seconds, run_id) "
                "values (%s, %s, %s, %s, 0, 0, 0, %s, %s, 0, %s) returning batch_id",
                (str(directory.resolve()), f.name, f.table, f.checksum, now, now, run_id),
            )
            new.append((f, cur.fetchone()[0]))
        t0 = time.perf_counter()
        sessions = max(1, min(sessions, len(new)))
        create_landing(new, sessions)
        progress_ctx = _Progress(todo) if show_progress else None
        try:
            copied = land(new, sessions, progress_ctx)
        finally:
            if progress_ctx:
                progress_ctx.close()
        summary.step_seconds["copy"] = time.perf_counter() - t0
        for f, b in new:
            rows, seconds = copied[b]
            summary.files.append(FileResult(f.name, f.table, b, rows_read=rows, copy_seconds=seconds))

        t0 = time.perf_counter()
        _open_work_schema(cur)
        cur.execute(_sql_text("functions.sql"))
        # the landing tables are read through union-all views, whose columns PostgreSQL has no
        # statistics for anyway: a small sample is enough to give it their row counts (without
        # it, it guesses 17 times too few rows of these wide text tables and plans serially)
        cur.execute("set local default_statistics_target = 10")
        for table in landing_tables(new, sessions):
            cur.execute(sql.SQL("analyze {}.{}").format(sql.Identifier(LANDING_SCHEMA), sql.Identifier(table)))
        cur.execute("reset default_statistics_target")
        summary.step_seconds["analyze landing"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        _fill_dictionaries(cur, new)
        _source_views(cur, new)
        summary.step_seconds["parse dictionaries"] = time.perf_counter() - t0
        bulk = _skip_row_triggers(cur)
        deferred_indexes = _drop_indexes_of_empty_tables(cur)
        cur.execute(
            "create unlogged table rej (_batch bigint, _line bigint, col text, val text, "
            "reason text)")
        cur.execute("create unlogged table drp (_batch bigint, reason text)")
        cur.execute(sql.SQL("insert into rej select _batch, _line, null, val, reason from {}.{}").format(
            sql.Identifier(LANDING_SCHEMA), sql.Identifier(BAD_LINES)))
        for step, text in _steps(_sql_text("normalize.sql")):
            t0 = time.perf_counter()
            if show_progress:
                from rich.console import Console

                Console(stderr=True).print(f"  normalizing: {step}", highlight=False)
            try:
                cur.execute(text)
            except psycopg.Error as exc:
                raise LoadError(
                    f"{directory}: the load failed while normalizing {step} "
                    f"({(exc.diag.message_primary or str(exc)).strip()}); nothing was loaded"
                ) from None
            summary.step_seconds[step] = time.perf_counter() - t0

        t0 = time.perf_counter()
        _rebuild_indexes(cur, deferred_indexes)
        summary.step_seconds["build indexes"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if bulk:
            _check_foreign_keys(cur)
        cur.execute(
            "insert into meta.load_change (run_id, patient_id, source, first_date) "
            "select %s, patient_id, source, min(first_date) from chg group by patient_id, source", (run_id,))
        cur.execute(
            "insert into meta.rejected_row (batch_id, file_name, line_number, column_name, value, reason) "
            "select r._batch, b.file_name, r._line, r.col, left(r.val, 200), r.reason "
            "from rej r join meta.load_batch b on b.batch_id = r._batch"
        )
        rejected = dict(cur.execute("select _batch, count(*) from rej group by 1").fetchall())
        dropped = dict(cur.execute("select _batch, count(*) from drp group by 1").fetchall())
        summary.rejected_by_reason.update(
            dict(cur.execute("select reason, count(*) from rej group by 1").fetchall()))
        summary.dropped_by_reason.update(
            dict(cur.execute("select reason, count(*) from drp group by 1").fetchall()))
        summary.notes += _dosage_notes(cur, new)
        finished = datetime.now(UTC)
        months = _flow_months(cur, new)
        if append:
            _refuse_loaded_flow_months(cur, new, months)
        care = _care_months(cur, new)
        for fr in summary.loaded_files:
            fr.rows_rejected = rejected.get(fr.batch_id, 0)
            fr.rows_dropped = dropped.get(fr.batch_id, 0)
            fr.rows_loaded = fr.rows_read - fr.rows_rejected - fr.rows_dropped
            fr.flow_months, fr.care_months = months.get(fr.batch_id), care.get(fr.batch_id)
            cur.execute(
                "update meta.load_batch set rows_read = %s, rows_loaded = %s, rows_rejected = %s, "
                "rows_dropped = %s, flow_month = %s, flow_month_last = %s, care_month_first = %s, "
                "care_month_last = %s, finished_at = %s, seconds = %s where batch_id = %s",
                (fr.rows_read, fr.rows_loaded, fr.rows_rejected, fr.rows_dropped, *(fr.flow_months or (None, None)),
                 *(fr.care_months or (None, None)), finished, (finished - now).total_seconds(), fr.batch_id),
            )
        cur.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(WORK_SCHEMA)))
        _end_run(conn, run_id, "done", None, len(todo), len(files) - len(todo))
    conn.commit()
    summary.step_seconds["record batches and commit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        for t in ("patient", "dispensing", "service_line", "hospital_stay", "stay_diagnosis",
                  "medical_act", "lab_test", "ald"):
            cur.execute(f"analyze claims.{t}")
        conn.commit()
    summary.step_seconds["analyze"] = time.perf_counter() - t0


_FLOW_TABLES = {"ER_PRS_F": "n_prs", "ER_PHA_F": "n_pha", "ER_CAM_F": "n_cam", "ER_BIO_F": "n_bio",
                "ER_ETE_F": "n_ete"}  # the work table of each DCIR table, with its parsed FLX_DIS_DTD


def _flow_months(cur: psycopg.Cursor, new: list[tuple[ExtractFile, int]]) -> dict[int, tuple[date, date]]:
    """The first and last flow months (FLX_DIS_DTD) of every new DCIR file, from the work tables
    that already hold them parsed (column flx), rather than from the landed text again."""
    tables = sorted({_FLOW_TABLES[f.table] for f, _ in new if f.table in _FLOW_TABLES})
    if not tables:
        return {}
    cur.execute(sql.SQL(" union all ").join(
        sql.SQL("select _batch, date_trunc('month', min(flx))::date, date_trunc('month', max(flx))::date "
                "from {} group by _batch").format(sql.Identifier(t)) for t in tables))
    return {b: (first, last) for b, first, last in cur.fetchall() if first is not None}


def _care_months(cur: psycopg.Cursor, new: list[tuple[ExtractFile, int]]) -> dict[int, tuple[date, date]]:
    """The first and last care months (EXE_SOI_DTD) of the kept lines of every new service-line
    file (ER_PRS_F): the care months a monthly flow touched, late corrections included."""
    if not any(f.table == "ER_PRS_F" for f, _ in new):
        return {}
    cur.execute("select _batch, date_trunc('month', min(date_start))::date, date_trunc('month', max(date_start))::date "
                "from n_prs where rej is null and drop_reason is null group by _batch")
    return {b: (first, last) for b, first, last in cur.fetchall() if first is not None}


def _refuse_loaded_flow_months(cur: psycopg.Cursor, new: list[tuple[ExtractFile, int]],
                               months: dict[int, tuple[date, date]]) -> None:
    """A flow month is delivered once (its corrections come in later flow months): a new DCIR
    file whose flow months overlap those of a file loaded by an earlier load, for the same
    table, stops the load (nothing of it is kept). Files of one load may share a flow month (a
    month split into parts)."""
    dcir = [(f, b) for f, b in new if b in months]
    if not dcir:
        return
    clash = cur.execute(
        "select n.name, n.first, n.last, n.tab, old.file_name, old.batch_id "
        "from unnest(%s::text[], %s::text[], %s::date[], %s::date[]) as n (name, tab, first, last) "
        "join meta.load_batch old on old.table_name = n.tab and old.batch_id <> all(%s) "
        "and old.flow_month <= n.last and coalesce(old.flow_month_last, old.flow_month) >= n.first "
        "order by n.name, old.batch_id limit 1",
        ([f.name for f, _ in dcir], [f.table for f, _ in dcir], [months[b][0] for _, b in dcir],
         [months[b][1] for _, b in dcir], [b for _, b in new])).fetchone()
    if clash:
        name, first, last, table, old_file, old_batch = clash
        span = f"{first:%Y-%m}" if first == last else f"{first:%Y-%m} to {last:%Y-%m}"
        raise LoadError(f"{name}: flow month {span} of {table} is already loaded ({old_file}, batch {old_batch}); "
                        "a flow month is loaded once, its corrections come in later flow months")


class _Progress:
    """One rich progress bar per SNDS table (all its files), with rows and rows/s so far."""

    def __init__(self, files: list[ExtractFile]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )
        self.progress.start()
        sizes: dict[str, int] = {}
        for f in files:
            sizes[f.table] = sizes.get(f.table, 0) + f.size
        self.tasks = {t: self.progress.add_task(f"COPY {t:<9}", total=n) for t, n in sorted(sizes.items())}
        self.rows = dict.fromkeys(sizes, 0)
        self.seconds = dict.fromkeys(sizes, 0.0)

    def start(self, f: ExtractFile):
        task = self.tasks[f.table]
        return lambda n: self.progress.advance(task, n)

    def finish(self, f: ExtractFile, rows: int, seconds: float) -> None:
        self.rows[f.table] += rows
        self.seconds[f.table] += seconds
        rate = self.rows[f.table] / self.seconds[f.table] if self.seconds[f.table] > 0 else 0
        self.progress.update(self.tasks[f.table],
                             description=f"COPY {f.table:<9} {self.rows[f.table]:>11,} rows {rate:>10,.0f} rows/s")

    def close(self) -> None:
        self.progress.stop()
