"""`veille load DIR` and the summary table it prints."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from veille.load.loader import LoadSummary, load_extract


def print_summary(summary: LoadSummary, console: Console | None = None) -> None:
    console = console or Console()
    for f in summary.files:
        if f.skipped:
            console.print(f"skipped {f.file}: already loaded (same checksum, batch {f.batch_id})")
    if summary.ignored:
        console.print(f"ignored (not SNDS tables read by veille): {', '.join(summary.ignored)}")
    if not summary.loaded_files:
        console.print("nothing new to load")
        return
    by_table: dict[str, list] = defaultdict(lambda: [0, 0, 0, 0, 0, 0.0])
    for f in summary.loaded_files:
        t = by_table[f.table]
        t[0] += 1
        t[1] += f.rows_read
        t[2] += f.rows_loaded
        t[3] += f.rows_dropped
        t[4] += f.rows_rejected
        t[5] += f.copy_seconds
    table = Table(title=f"loaded {summary.directory}")
    for col in ("table", "files", "read", "loaded", "dropped (rules)", "rejected", "COPY rows/s"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, (n, read, loaded, dropped, rejected, secs) in sorted(by_table.items()):
        rate = f"{read / secs:,.0f}" if secs > 0 else "-"
        table.add_row(name, str(n), f"{read:,}", f"{loaded:,}", f"{dropped:,}", f"{rejected:,}", rate)
    tot = summary.totals()
    table.add_row("total", str(len(summary.loaded_files)), f"{tot['read']:,}", f"{tot['loaded']:,}",
                  f"{tot['dropped']:,}", f"{tot['rejected']:,}",
                  f"{tot['read'] / summary.seconds:,.0f} overall" if summary.seconds else "-",
                  style="bold")
    console.print(table)
    for title, counter in (("dropped by cleaning rule", summary.dropped_by_reason),
                           ("rejected (see meta.rejected_row)", summary.rejected_by_reason)):
        if counter:
            t = Table(title=title)
            t.add_column("reason")
            t.add_column("rows", justify="right")
            for reason, n in counter.most_common():
                t.add_row(reason, f"{n:,}")
            console.print(t)
    for label, spans in (("flow months", [f.flow_months for f in summary.loaded_files if f.flow_months]),
                         ("care months touched", [f.care_months for f in summary.loaded_files if f.care_months])):
        if spans:
            first, last = min(a for a, _ in spans), max(b for _, b in spans)
            console.print(f"{label}: {first:%Y-%m}" + (f" to {last:%Y-%m}" if last != first else ""))
    for note in summary.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(f"done in {summary.seconds:.1f} s")


def register(app: typer.Typer) -> None:
    @app.command("load")
    def load_cmd(
        directory: Path = typer.Argument(..., help="folder of the SNDS extract (CSV files)"),
        migrate: bool = typer.Option(True, help="apply pending migrations first"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
        append: bool = typer.Option(False, "--append", help="later flow months of the extract already loaded: "
                                    "a flow month loaded before is refused"),
    ) -> None:
        """Load an SNDS extract folder into the claims schema (all of it or nothing)."""
        if migrate:
            from veille import migrate as m

            m.upgrade()
        summary = load_extract(directory, show_progress=not quiet, append=append)
        print_summary(summary)
