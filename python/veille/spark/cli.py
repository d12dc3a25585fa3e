"""`veille flatten EXTRACT OUT`: the extract's tables as Parquet for the spark target."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("flatten")
    def flatten_cmd(
        extract: Path | None = typer.Argument(None, help="folder of the SNDS extract (CSV files); "
                                              "omitted with --from-warehouse"),
        out: Path = typer.Option(..., "--out", "-o", help="folder of the Parquet tables (replaced)"),
        from_warehouse: bool = typer.Option(False, "--from-warehouse",
                                            help="write the current warehouse's tables instead of loading EXTRACT"),
    ) -> None:
        """Write the extract's tables as Parquet for the spark target (docs/spark.md). The extract
        is read by the loader, with its cleaning and rejection rules, into a scratch database
        that is dropped afterwards; rejected rows are in OUT/meta/rejected_row."""
        from veille.errors import VeilleError
        from veille.spark.flatten import flatten

        if (extract is None) == (not from_warehouse):
            raise VeilleError("flatten: give either an EXTRACT folder or --from-warehouse")
        if extract is not None and not extract.is_dir():
            raise VeilleError(f"flatten: {extract} is not a folder")
        summary = flatten(extract, out, echo=typer.echo)
        total = sum(summary.tables.values())
        typer.echo(f"flattened {len(summary.tables)} tables, {total:,} rows in {summary.files} Parquet files "
                   f"to {out} in {summary.seconds:.1f} s")
