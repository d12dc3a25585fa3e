"""What every `veille bench <area>` shares: timed stages, peak memory, the rows of docs/benchmarks.md.

A benchmark makes a :class:`Bench` and wraps each step it measures in ``with bench.stage(name):``.
A stage records its wall and CPU seconds (this process and its finished children), the peak
resident memory so far, the load average before and after, and, for a bench made with
``server=True``, the CPU seconds the PostgreSQL server spent meanwhile
(:func:`server_cpu_seconds`: what other jobs on the machine do not inflate as they do wall
time). Each stage prints one progress line as it ends. The benchmark then gives its results as
rows of raw measures and a :class:`Table` of its own columns, the ones docs/benchmarks.md shows;
:meth:`Bench.finish` prints that Markdown table and, with ``--out FILE``, appends it to FILE
(``.md``: the table under a dated heading; ``.csv``: the raw rows, one line each).

Clocks and probes are arguments of :class:`Bench`, so that a test drives a run with fixed
numbers and asserts its exact output. Also here: the process-tree probes (PSS, server CPU) and
the scratch databases and cached generated extracts several benchmarks need.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Self

import typer

from veille.errors import VeilleError

Probe = Callable[[], float]

OutFile = Annotated[
    Path | None,
    typer.Option("--out", metavar="FILE", dir_okay=False, show_default=False,
                 help="append the results to FILE: .md (the table of docs/benchmarks.md under a "
                      "dated heading) or .csv (the raw measures, one line a row)"),
]
"""The ``--out FILE`` option every benchmark takes: ``out: benchkit.OutFile = None``."""

OUT_SUFFIXES = (".md", ".csv")


# --------------------------------------------------------------------------- probes


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished (waited-for) children."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


def peak_rss_mb() -> float:
    """Peak resident memory so far, in MB, of this process or of its largest finished child."""
    return max(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 1024


def load_average() -> float:
    """The one-minute load average of the machine."""
    return os.getloadavg()[0]


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree(root: int, kids: dict[int, list[int]]) -> list[int]:
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += kids.get(pid, [])
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_pid() -> int | None:
    """The embedded PostgreSQL server's postmaster, or None without a local embedded server."""
    from veille import db

    info = db._postmaster_info()
    return int(info.pid) if info is not None and getattr(info, "pid", None) else None


def server_cpu_seconds() -> float | None:
    """CPU seconds (user + system) the embedded server has used so far: every live process of
    its tree (backends, parallel workers) plus what its postmaster has reaped from exited ones.
    The difference over a job is the job's CPU work in the server, which other jobs on the
    machine do not inflate as they do wall time. None without a local embedded server."""
    root = server_pid()
    if root is None:
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _tree(root, _children()):
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        if pid == root:
            total += int(fields[13]) + int(fields[14])  # cutime, cstime: reaped children
    return total / tick


class PeakMemory:
    """Samples the proportional set size (PSS, shared pages split between their users) of a
    process tree and of the PostgreSQL server every half second; keeps the peak of each, in kB."""

    def __init__(self, root: int, server: int | None) -> None:
        self.root, self.server = root, server
        self.peak_kb = 0
        self.server_peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            kids = _children()
            self.peak_kb = max(self.peak_kb, sum(_pss_kb(p) for p in _tree(self.root, kids)))
            if self.server:
                self.server_peak_kb = max(self.server_peak_kb,
                                          sum(_pss_kb(p) for p in _tree(self.server, kids)))
            self._stop.wait(0.5)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- stages


@dataclass
class Stage:
    """One measured step. Inside its ``with`` block the benchmark may add ``fields`` (counts
    of its own, kept in its rows), a ``note`` for the progress line, or set ``peak_mb`` itself
    (a stage run in a child process measures its memory another way)."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_mb: float | None = None
    server_cpu_seconds: float | None = None
    load: tuple[float, float] = (0.0, 0.0)

    def row(self) -> dict[str, Any]:
        """The stage's raw measures and fields, as one row."""
        return {"stage": self.name, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "peak_mb": self.peak_mb, "server_cpu_seconds": self.server_cpu_seconds,
                "load_start": self.load[0], "load_end": self.load[1], **self.fields}


def load_range(first: float, last: float) -> str:
    """A load average over a stage as docs/benchmarks.md gives it: ``1.2`` or ``1.2-1.6``."""
    low, high = sorted((round(first, 1), round(last, 1)))
    return f"{low:.1f}" if low == high else f"{low:.1f}-{high:.1f}"


def progress_line(st: Stage) -> str:
    """What a stage prints as it ends."""
    parts = [f"{st.seconds:,.1f} s wall", f"{st.cpu_seconds:,.1f} s CPU", f"peak {st.peak_mb:,.0f} MB"]
    if st.server_cpu_seconds is not None:
        parts.append(f"server CPU {st.server_cpu_seconds:,.1f} s")
    parts.append(f"load {load_range(*st.load)}")
    return f"  {st.name}: " + ", ".join(parts) + (f"; {st.note}" if st.note else "")


# --------------------------------------------------------------------------- tables


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                   right: Sequence[bool] | None = None) -> str:
    """A Markdown table; ``right[i]`` aligns column i to the right (``---:``)."""
    right = right or [False] * len(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "".join("---:|" if r else "---|" for r in right)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class Column:
    """A column of a benchmark's table: its header and how a row's cell is written."""

    header: str
    cell: Callable[[dict[str, Any]], str]
    right: bool = False


@dataclass(frozen=True)
class Table:
    """The columns of one table of docs/benchmarks.md."""

    columns: tuple[Column, ...]

    def markdown(self, rows: Sequence[dict[str, Any]]) -> str:
        return markdown_table([c.header for c in self.columns],
                              [[c.cell(r) for c in self.columns] for r in rows],
                              [c.right for c in self.columns])


def seconds_cell(key: str = "seconds", digits: int = 1) -> Callable[[dict[str, Any]], str]:
    """A cell ``12.3 s`` from a row's value ``key``."""
    return lambda r: f"{r[key]:,.{digits}f} s"


STAGE_TABLE = Table((
    Column("step", lambda r: r["stage"]),
    Column("wall", seconds_cell()),
    Column("CPU", seconds_cell("cpu_seconds")),
    Column("peak RSS", lambda r: f"{r['peak_mb']:,.0f} MB"),
    Column("load avg", lambda r: load_range(r["load_start"], r["load_end"])),
))
"""The table of a benchmark with no table of its own in docs/benchmarks.md: one row a stage."""


def check_out(out: Path | None) -> Path | None:
    """``out`` if it is a results file the benchmarks can append to, else a one-line error
    (before hours of measures, not after)."""
    if out is not None and out.suffix not in OUT_SUFFIXES:
        raise VeilleError(f"--out must be a .md or .csv file, got {out}")
    return out


def _csv_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    return json.dumps(value) if isinstance(value, dict | list | tuple) else value


def append_results(out: Path, bench: str, markdown: str, rows: Sequence[dict[str, Any]],
                   at: datetime) -> None:
    """Append one benchmark's results to ``out``: its Markdown table under a heading naming the
    benchmark and the time (``.md``), or its raw rows (``.csv``, with the header line when the
    file is new; one CSV holds the rows of one benchmark)."""
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".md":
        with out.open("a", encoding="utf-8") as fh:
            fh.write(f"\n### veille bench {bench}, {at:%Y-%m-%d %H:%M} UTC\n\n{markdown}\n")
        return
    keys = list(dict.fromkeys(["bench", "at", *(k for r in rows for k in r)]))
    new = not out.exists() or out.stat().st_size == 0
    if not new:
        with out.open(encoding="utf-8", newline="") as fh:
            header = next(csv.reader(fh), [])
        if header != keys:
            raise VeilleError(f"{out} holds rows with other columns ({', '.join(header)}): "
                              "one CSV file per benchmark, or a .md file")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    if new:
        writer.writeheader()
    for r in rows:
        writer.writerow({"bench": bench, "at": at.isoformat(timespec="seconds"),  # unless the row has its own
                         **{k: _csv_value(v) for k, v in r.items()}})
    with out.open("a", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())


# --------------------------------------------------------------------------- the harness


class Bench:
    """One benchmark run: its stages, measured with the given clock and probes, printed with
    ``echo`` as they end, and its results written by :meth:`finish`."""

    def __init__(self, name: str, *, out: Path | None = None, server: bool = False,
                 echo: Callable[[str], Any] = typer.echo, clock: Probe = time.perf_counter,
                 cpu: Probe = cpu_seconds, memory: Probe = peak_rss_mb, load: Probe = load_average,
                 server_cpu: Callable[[], float | None] | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.name, self.out, self.echo = name, check_out(out), echo
        self.clock, self.cpu, self.memory, self.load, self.now = clock, cpu, memory, load, now
        self.server_cpu = server_cpu or (server_cpu_seconds if server else (lambda: None))
        self.stages: list[Stage] = []

    @contextmanager
    def stage(self, name: str, **fields: Any) -> Iterator[Stage]:
        """Measure the block as stage ``name``; ``fields`` go into its row. A block that raises
        is not recorded."""
        st = Stage(name, dict(fields))
        load0, server0, cpu0 = self.load(), self.server_cpu(), self.cpu()
        t0 = self.clock()
        yield st
        st.seconds = self.clock() - t0
        st.cpu_seconds = self.cpu() - cpu0
        server1 = self.server_cpu()
        if server0 is not None and server1 is not None:
            st.server_cpu_seconds = server1 - server0
        if st.peak_mb is None:
            st.peak_mb = self.memory()
        st.load = (load0, self.load())
        self.stages.append(st)
        self.echo(progress_line(st))

    def __getitem__(self, name: str) -> Stage:
        """The last stage named ``name``."""
        for st in reversed(self.stages):
            if st.name == name:
                return st
        raise KeyError(name)

    def rows(self) -> list[dict[str, Any]]:
        """One row a stage."""
        return [st.row() for st in self.stages]

    def finish(self, table: Table = STAGE_TABLE, rows: Sequence[dict[str, Any]] | None = None) -> str:
        """Print ``table`` over ``rows`` (default: one a stage), append it to ``--out``; return it."""
        return self.finish_tables([(table, self.rows() if rows is None else rows)])

    def finish_tables(self, parts: Sequence[tuple[Table, Sequence[dict[str, Any]]]]) -> str:
        """:meth:`finish` for a benchmark with several tables: each printed, blank line between."""
        text = "\n\n".join(table.markdown(rows) for table, rows in parts)
        self.echo("")
        self.echo(text)
        if self.out is not None:
            append_results(self.out, self.name, text, [r for _, rows in parts for r in rows], self.now())
            self.echo(f"appended to {self.out}")
        return text


# --------------------------------------------------------------------------- databases, extracts


@contextmanager
def current_database(name: str) -> Iterator[str]:
    """Make ``name`` the database veille works on (VEILLE_DATABASE) inside the block; the
    embedded server creates it when missing."""
    from veille import db

    old = os.environ.get("VEILLE_DATABASE")
    os.environ["VEILLE_DATABASE"] = name
    db.reset_cache()
    try:
        yield name
    finally:
        if old is None:
            os.environ.pop("VEILLE_DATABASE", None)
        else:
            os.environ["VEILLE_DATABASE"] = old
        db.reset_cache()


@contextmanager
def scratch_database(prefix: str, *, keep: bool = False, template: str | None = None,
                     name: str | None = None) -> Iterator[str]:
    """A new database on the current server (``prefix_<random>``, or ``name``, replaced when it
    exists), made the current one inside the block and dropped after it unless ``keep``."""
    from veille import db

    name = name or f"{prefix}_{uuid.uuid4().hex[:8]}"
    db.create_database(name, replace=True, template=template)
    try:
        with current_database(name):
            yield name
    finally:
        if not keep:
            db.drop_database(name)


def generated_extract(folder: str, patients: int, years: int, seed: int, *, scenario: str = "default",
                      profile: str = "default", echo: Callable[[str], Any] = typer.echo,
                      ) -> tuple[Path, float | None]:
    """A synthetic extract (from 2015-01-01) kept under ``$VEILLE_HOME/bench/<folder>`` and reused
    by later runs: its path, and the seconds it took to generate (None when it was there)."""
    from veille import db
    from veille.synth import generate

    out = db.veille_home() / "bench" / folder
    if (out / "truth.json").is_file():
        return out, None
    echo(f"generating {patients:,} patients x {years} years in {out}")
    t0 = time.perf_counter()
    generate(out, patients, years, date(2015, 1, 1), seed, scenario, profile=profile, force=True)
    return out, time.perf_counter() - t0
