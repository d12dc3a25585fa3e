"""Landing: every new file of an extract COPY'd as text into unlogged tables, by several
sessions at once (one per core), before the load's transaction reads them.

Each COPY session has its own table per SNDS table, ``load_landing.l_<table>_s<n>``, with the
union of that table's columns across files; the view ``load_landing.l_<table>`` reads them
all. A row gets its file's batch from the session setting ``veille.batch`` and its line number
(the header is line 1) from the session table's sequence, restarted for each file.

The landing tables are committed by the sessions that fill them, so that the load's single
transaction can read what several sessions wrote; they hold raw copies of the files only, never
claims. They are dropped when the load ends, succeeded or not; a load that was killed leaves
them behind, and the next load drops them first. Loads are serialised by an advisory lock, so
one schema name is enough.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from veille import db
from veille.errors import LoadError
from veille.load.files import ExtractFile, odd_quote_lines

LANDING_SCHEMA = "load_landing"
_COPY_BLOCK = 1 << 20


def landing_name(table: str) -> str:
    return f"l_{table.lower()}"


def default_sessions() -> int:
    """COPY sessions: one per core, at most 4 (VEILLE_LOAD_SESSIONS overrides)."""
    value = os.environ.get("VEILLE_LOAD_SESSIONS")
    if value:
        try:
            n = int(value)
        except ValueError:
            raise LoadError(f"VEILLE_LOAD_SESSIONS must be a positive integer, got {value!r}") from None
        if n < 1:
            raise LoadError(f"VEILLE_LOAD_SESSIONS must be a positive integer, got {value!r}")
        return n
    return max(1, min(4, os.cpu_count() or 1))


def _session_table(table: str, session: int) -> str:
    return f"{landing_name(table)}_s{session}"


def landing_tables(files: list[tuple[ExtractFile, int]], sessions: int) -> list[str]:
    """The landing tables the sessions write (to analyze them)."""
    return [_session_table(t, i) for t in sorted({f.table for f, _ in files}) for i in range(sessions)]


BAD_LINES = "bad_line"  # lines of a quoted file whose quotes do not pair up (rejected, not landed)
_NO_QUOTE = "\x01"  # the CSV quote of unquoted files: a byte no accepted file holds (files.py)


def create_landing(files: list[tuple[ExtractFile, int]], sessions: int) -> None:
    """(Re)create the landing schema: per SNDS table, one table per session and a view of all;
    and the table of the lines rejected before they could be landed."""
    columns: dict[str, list[str]] = {}
    for f, _ in files:
        cols = columns.setdefault(f.table, [])
        cols += [c for c in f.header if c not in cols]
    schema = sql.Identifier(LANDING_SCHEMA)
    with db.raw_connection(role=db.LOADER) as conn, conn.cursor() as cur:
        _drop_schema(cur, LANDING_SCHEMA)
        cur.execute(sql.SQL("create schema {}").format(schema))
        cur.execute(sql.SQL("create unlogged table {}.{} (_batch bigint, _line bigint, val text, reason text)").format(
            schema, sql.Identifier(BAD_LINES)))
        for table, cols in columns.items():
            parts = []
            for i in range(sessions):
                name = _session_table(table, i)
                cur.execute(sql.SQL("create unlogged sequence {}.{}").format(schema, sql.Identifier(name + "_seq")))
                cur.execute(sql.SQL(
                    "create unlogged table {}.{} ({}, _batch bigint default current_setting('veille.batch')::bigint, "
                    "_line bigint default nextval({}))").format(
                    schema, sql.Identifier(name),
                    sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c.lower())) for c in cols),
                    sql.Literal(f"{LANDING_SCHEMA}.{name}_seq")))
                parts.append(sql.SQL("select * from {}.{}").format(schema, sql.Identifier(name)))
            cur.execute(sql.SQL("create view {}.{} as {}").format(
                schema, sql.Identifier(landing_name(table)), sql.SQL(" union all ").join(parts)))
        conn.commit()


def drop_landing() -> None:
    with db.raw_connection(role=db.LOADER) as conn, conn.cursor() as cur:
        _drop_schema(cur, LANDING_SCHEMA)
        conn.commit()


def _drop_schema(cur: psycopg.Cursor, name: str) -> None:
    """Drop a scratch schema of the loader; one left by a load that ran as another user (which
    this role may not drop) gets one line saying what to do."""
    try:
        cur.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(name)))
    except psycopg.errors.InsufficientPrivilege:
        raise LoadError(f"the scratch schema {name}, left by a load run as another database user, "
                        f"belongs to another role: ask an administrator to run `drop schema {name} cascade`") from None


def _copy_error(f: ExtractFile, exc: psycopg.Error) -> str:
    context = (exc.diag.context or "") if exc.diag else ""
    m = re.search(r"line (\d+)", context)
    where = f"line {m.group(1)}: " if m else ""
    message = (exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc)).strip()
    if "extra data after last expected column" in message:
        message = "more fields than the header has columns"
    elif "missing data for column" in message:
        message = "fewer fields than the header has columns"
    elif "unterminated CSV quoted field" in message:
        message = "unterminated quoted field"
    return f"{f.name}: {where}{message}"


def _copy_file(cur: psycopg.Cursor, f: ExtractFile, batch_id: int, session: int,
               progress: Callable[[int], None] | None) -> tuple[int, float]:
    name = _session_table(f.table, session)
    cur.execute("select set_config('veille.batch', %s, false), setval(%s, 2, false)",
                (str(batch_id), f"{LANDING_SCHEMA}.{name}_seq"))
    copy = sql.SQL(
        "copy {}.{} ({}) from stdin with (format csv, header true, delimiter {}, encoding {}, null '', quote {})"
    ).format(sql.Identifier(LANDING_SCHEMA), sql.Identifier(name),
             sql.SQL(", ").join(sql.Identifier(c.lower()) for c in f.header),
             sql.Literal(f.delimiter), sql.Literal(f.encoding), sql.Literal('"' if f.quoted else _NO_QUOTE))
    bad = odd_quote_lines(f.path) if f.quoted else {}
    t0 = time.perf_counter()
    try:
        with cur.copy(copy) as cp, f.path.open("rb") as fh:
            if bad:
                _write_without(cp, fh, f, bad, progress)
            elif f.mixed_endings:
                _write_lf(cp, fh, progress)
            else:
                while block := fh.read(_COPY_BLOCK):
                    cp.write(block)
                    if progress is not None:
                        progress(len(block))
    except psycopg.Error as exc:
        raise LoadError(_copy_error(f, exc)) from None
    rows = cur.rowcount
    if bad:
        _set_aside(cur, f, batch_id, name, bad)
    return rows, time.perf_counter() - t0


def _write_lf(cp, fh, progress: Callable[[int], None] | None) -> None:
    """A file whose lines end some in CRLF, some in LF (files joined end to end): COPY wants one
    kind, so every CRLF is sent as LF."""
    carry = b""
    while block := fh.read(_COPY_BLOCK):
        data = carry + block
        carry = b"\r" if data.endswith(b"\r") else b""
        cp.write(data[:len(data) - len(carry)].replace(b"\r\n", b"\n"))
        if progress is not None:
            progress(len(block))
    if carry:
        cp.write(carry)


def _write_without(cp, fh, f: ExtractFile, bad: dict[int, bytes], progress: Callable[[int], None] | None) -> None:
    """A quoted file with broken lines: each broken line is sent as an empty row (so that every
    later line keeps its line number) and set aside afterwards by :func:`_set_aside`."""
    empty = (f.delimiter * (len(f.header) - 1) + "\n").encode()
    for i, line in enumerate(fh, start=1):
        cp.write(empty if i in bad else line)
        if progress is not None:
            progress(len(line))


def _set_aside(cur: psycopg.Cursor, f: ExtractFile, batch_id: int, name: str, bad: dict[int, bytes]) -> None:
    """The empty rows that stand for broken lines leave the landing table for the bad-line table,
    with the line's text, in the same transaction as the COPY."""
    codec = "utf-8" if f.encoding == "UTF8" else "cp1252"
    cur.execute(sql.SQL("delete from {}.{} where _batch = %s and _line = any(%s)").format(
        sql.Identifier(LANDING_SCHEMA), sql.Identifier(name)), (batch_id, list(bad)))
    with cur.copy(sql.SQL("copy {}.{} (_batch, _line, val, reason) from stdin").format(
            sql.Identifier(LANDING_SCHEMA), sql.Identifier(BAD_LINES))) as cp:
        for line, raw in bad.items():
            text = raw.decode(codec, errors="replace").rstrip("\r\n")[:200]
            cp.write_row((batch_id, line, text, "unbalanced double quote (a quoted field is not closed)"))


def land(files: list[tuple[ExtractFile, int]], sessions: int, progress=None) -> dict[int, tuple[int, float]]:
    """COPY every file into the landing tables with ``sessions`` connections at once (the
    largest files first, each to the least busy session). Returns {batch: (rows, seconds)}.
    The first bad file stops every session after its current file and raises its LoadError."""
    queues: list[list[tuple[ExtractFile, int]]] = [[] for _ in range(sessions)]
    sizes = [0] * len(queues)
    for f, b in sorted(files, key=lambda fb: -fb[0].size):
        i = sizes.index(min(sizes))
        queues[i].append((f, b))
        sizes[i] += f.size
    results: dict[int, tuple[int, float]] = {}
    errors: list[BaseException] = []
    stop = threading.Event()

    def work(session: int, queue: list[tuple[ExtractFile, int]]) -> None:
        try:
            with db.raw_connection(role=db.LOADER) as conn, conn.cursor() as cur:
                for f, b in queue:
                    if stop.is_set():
                        return
                    advance = progress.start(f) if progress else None
                    rows, seconds = _copy_file(cur, f, b, session, advance)
                    conn.commit()
                    if progress:
                        progress.finish(f, rows, seconds)
                    results[b] = (rows, seconds)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=work, args=(i, q), name=f"copy-{i}")
               for i, q in enumerate(queues) if q]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        first = next((e for e in errors if isinstance(e, LoadError)), errors[0])
        raise first
    return results
