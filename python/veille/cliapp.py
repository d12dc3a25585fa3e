"""What every domain's command group shares: the sub-app, `--settings FILE`, closed choices.

A domain's ``cli`` module builds its group with :func:`sub_app`, registers it with
``register(app)`` (``veille.cli`` lists the modules), and turns its options into settings with
:func:`load_settings`: the defaults of the settings model, then the YAML file of
``--settings``, then the options actually typed on the command line. Mistakes are raised as
:class:`~veille.errors.VeilleError`; ``veille.cli.main`` prints them as one line, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from veille.errors import VeilleError

if TYPE_CHECKING:  # veille.settings (pydantic) is imported when a command runs, not for --help
    from veille.settings import Settings

S = TypeVar("S", bound="Settings")

SETTINGS_HELP = ("YAML file of settings (keys as in the docs); options given on the command line "
                 "override it")


def sub_app(name: str, help: str, *, no_args_is_help: bool = True) -> typer.Typer:
    """A command group ``veille NAME``: help when called bare, no rich tracebacks, no completion."""
    return typer.Typer(name=name, help=help, no_args_is_help=no_args_is_help,
                       pretty_exceptions_enable=False, add_completion=False)


SettingsFile = Annotated[
    Path | None,
    typer.Option("--settings", metavar="FILE", help=SETTINGS_HELP, dir_okay=False, show_default=False),
]
"""The ``--settings FILE`` option: ``settings_file: cliapp.SettingsFile = None``."""

Target = Annotated[str, typer.Option(
    "--target", help="dbt target that builds and holds the marts: default (PostgreSQL), spark (this "
    "machine) or spark_cluster (a Thrift server; docs/spark.md); results go to PostgreSQL either way")]
"""The ``--target`` option: ``target: cliapp.Target = "default"`` (check it with veille.marts.check_target)."""


def _given(ctx: typer.Context | None, param: str) -> bool:
    """Whether ``param`` was typed (or set by its environment variable), not defaulted.
    Without a context (a test calling the function) every value counts as given."""
    if ctx is None:
        return True
    source = ctx.get_parameter_source(param)
    return source is None or source.name not in ("DEFAULT", "DEFAULT_MAP")


def _option_names(ctx: typer.Context | None) -> dict[str, str]:
    if ctx is None:
        return {}
    return {p.name: max(p.opts, key=len) for p in ctx.command.params if p.name and p.opts}


def load_settings(ctx: typer.Context | None, model: type[S], path: Path | None,
                  values: dict[str, Any] | None = None, params: dict[str, str] | None = None) -> S:
    """``model`` from its defaults, the file ``path`` (``--settings``), then the command line.

    ``values`` maps each settings key to the value of the option that sets it; ``params`` maps
    a key to that option's parameter when their names differ. Only options the user typed
    override the file, so ``--settings f.yml --seed 2`` keeps f.yml's other values; a bad
    typed value names its option (``--k: must be ...``), a bad file value the file."""
    values, params = values or {}, params or {}
    given = {key: v for key, v in values.items() if _given(ctx, params.get(key, key))}
    names = _option_names(ctx)
    options = {key: names[params.get(key, key)] for key in values if params.get(key, key) in names}
    return model.load(path, given, options)


def choice(value: str, allowed: tuple[str, ...] | list[str], option: str) -> str:
    """``value`` if it is one of ``allowed``, else the one line naming the option and the choices."""
    if value in allowed:
        return value
    from veille.settings import hint

    listed = ", ".join(allowed[:-1]) + f" or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
    raise VeilleError(f"{option} must be {listed}, got {value!r}{hint(value, allowed)}")
