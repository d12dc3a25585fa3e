"""The ``veille`` command line.

Each job module that has commands exposes ``register(app)``; this file lists them. A domain's
command group is built with :func:`veille.cliapp.sub_app` (and its settings read with
``--settings FILE``, :func:`veille.cliapp.load_settings`). A user mistake raises
:class:`veille.errors.VeilleError` and :func:`main` prints it as one line (exit 2).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys

import typer
from rich.console import Console

from veille import cliapp, db
from veille.errors import VeilleError

console = Console(stderr=True)

app = typer.Typer(
    help="veille: a SQL-first pharmacoepidemiology warehouse for French SNDS claims.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = cliapp.sub_app("db", "Start, stop and locate the database.")
app.add_typer(db_app)


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL server (no-op with VEILLE_DATABASE_URL)."""
    s = db.settings()
    where = f"embedded, data in {db.veille_home() / 'pgdata'}" if s.embedded else "external"
    typer.echo(f"database ready ({where}): {s.url}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL server."""
    typer.echo("embedded server stopped" if db.stop_embedded() else "embedded server was not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the embedded server runs and where."""
    if os.environ.get("VEILLE_DATABASE_URL"):
        typer.echo("external database (VEILLE_DATABASE_URL)")
        return
    sock = db.embedded_status()
    typer.echo(f"embedded server running, socket in {sock}" if sock else "embedded server stopped")


@db_app.command("url")
def db_url() -> None:
    """Print the libpq URL of the database (for psql)."""
    typer.echo(db.settings().url)


@db_app.command("env")
def db_env() -> None:
    """Print shell exports so that psql and a plain `dbt` reach the same database."""
    for k, v in db.settings().env().items():
        typer.echo(f"export {k}='{v}'")


@app.command("migrate")
def migrate_cmd(
    revision: str = typer.Argument("heads", help="target revision (default: all heads)"),
    down: bool = typer.Option(False, "--down", help="downgrade to REVISION instead"),
) -> None:
    """Apply the alembic migrations (claims, ref, meta, results schemas)."""
    from veille import migrate

    if down:
        migrate.downgrade(revision)
    else:
        migrate.upgrade(revision)
    typer.echo(f"schema at revision {migrate.current() or 'base'}")
    roles = db.roles_set_up()
    typer.echo(f"roles: {', '.join(roles)} (docs/security.md)" if roles else
               f"roles: none set up here, every command runs as {db.settings().user} (docs/security.md)")


# Job modules register their own commands (dbt, docs, load, synth, study, scan, pathways, fraud, bench).
_PLUGINS = [
    "veille.dbt",
    "veille.docs",
    "veille.load.cli",
    "veille.spark.cli",
    "veille.refresh",
    "veille.synth.cli",
    "veille.study.cli",
    "veille.scan.cli",
    "veille.pathways.cli",
    "veille.fraud.cli",
    "veille.bench",
    "veille.demo",
    "veille.audit",
]
for _name in _PLUGINS:
    if importlib.util.find_spec(_name.rsplit(".", 1)[0]) and importlib.util.find_spec(_name):
        importlib.import_module(_name).register(app)


def main() -> None:
    try:
        rc = app(standalone_mode=False)
        if isinstance(rc, int):
            sys.exit(rc)
    except VeilleError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except subprocess.CalledProcessError as exc:
        console.print(f"[bold red]error:[/] command failed: {' '.join(map(str, exc.cmd))}")
        sys.exit(exc.returncode or 1)
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # usage errors: typer's own click (typer >= 0.26) or click's
        import click

        if isinstance(exc, typer.TyperException | click.exceptions.ClickException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(getattr(exc, "exit_code", 2))
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
    finally:
        db.reset_cache()  # close pooled connections before exit (no ResourceWarning at shutdown)


if __name__ == "__main__":
    main()
