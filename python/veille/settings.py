"""Settings as validated data, shared by every domain package (study, scan, pathways, fraud).

:class:`Settings` is a strict pydantic model (unknown keys are refused) that loads from a YAML
file, a dict, or both with command-line values on top. Every mistake becomes one
:class:`~veille.errors.VeilleError` line naming the file (or the option), the key and the
problem, with the allowed values of a closed choice and a hint for a misspelled key::

    scan.yml: unknown key 'washot_days' (did you mean 'washout_days'?)
    scan.yml: replicates: must be >= 19, got 5
    pathways.yml: method: must be 'mixture' or 'clara', got 'clarra' (did you mean 'clara'?)
    --replicates: must be >= 19, got 5

The study files (`veille.study.config`) use the same error lines through :func:`validate`.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from veille.errors import VeilleError

STRICT = ConfigDict(extra="forbid", frozen=True)

M = TypeVar("M", bound=BaseModel)

_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="),
           "less_than": ("lt", "<"), "less_than_equal": ("le", "<=")}
_KINDS = {
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "float_parsing": "a number", "float_type": "a number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "list_type": "a list", "dict_type": "a mapping of keys",
    "model_type": "a mapping of keys", "model_attributes_type": "a mapping of keys",
    "date_parsing": "a date (YYYY-MM-DD)", "date_type": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
}
_TAG = re.compile(r"^(function-\w+|[a-z_]+\[.*\]|int|float|str|bool|none|date|datetime)$")


def hint(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """' (did you mean 'x'?)' for the closest of ``choices``, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def where(loc: tuple[Any, ...]) -> str:
    """A key path as a reader writes it: ``comparisons[0].exposure.atc``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _models(annotation: Any) -> list[type[BaseModel]]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []
    return [m for a in args for m in _models(a)]


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the location ``loc`` under ``root`` (for 'did you mean')."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = next(iter(_models(field.annotation)), None)
    return model


def _key_path(root: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """``loc`` without pydantic's validator and union-member tags (keys of the file only)."""
    out: list[Any] = []
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            continue
        if model is not None and part in model.model_fields:
            out.append(part)
            model = next(iter(_models(model.model_fields[part].annotation)), None)
        elif not _TAG.match(str(part)):
            out.append(part)  # a key of a mapping (e.g. a concept set's name)
            model = None
    return tuple(out)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problem(err: dict[str, Any], root: type[BaseModel]) -> tuple[tuple[Any, ...], str]:
    """(key path, what is wrong) of one pydantic error, in words a user reads."""
    loc = _key_path(root, tuple(err["loc"]))
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        parent = model_at(root, loc[:-1])
        known = list(parent.model_fields) if parent else []
        tip = hint(key, known) or (f" (known keys: {', '.join(known)})" if known else "")
        return loc[:-1], f"unknown key {key!r}{tip}"
    if kind == "missing":
        return loc[:-1], f"missing key {str(loc[-1])!r}"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        choices = re.findall(r"'([^']*)'", expected)
        return loc, f"must be {expected}, got {_shown(value)}{hint(value, choices) if choices else ''}"
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        bound = ctx[name]
        return loc, f"must be {op} {f'{bound:g}' if isinstance(bound, float) else bound}, got {_shown(value)}"
    if kind in _KINDS:
        return loc, f"must be {_KINDS[kind]}, got {_shown(value)}"
    return loc, str(err["msg"]).removeprefix("Value error, ")


def first_error(exc: ValidationError) -> dict[str, Any]:
    """The error to show: a misspelled key first (it explains the 'missing key' it causes)."""
    errors = exc.errors()
    return next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])


def one_line(err: dict[str, Any], root: type[BaseModel]) -> str:
    """``key.path: problem`` (or just the problem of a whole-model check)."""
    loc, text = problem(err, root)
    return f"{where(loc)}: {text}" if loc else text


def validate(model: type[M], data: Any, source: str | None = None,
             overrides: dict[str, Any] | None = None, options: dict[str, str] | None = None) -> M:
    """``model`` validated from ``data`` (read from ``source``) with ``overrides`` on top.

    The first mistake is raised as one VeilleError line. A mistake in an override names its
    option (``options``: key -> ``--option``) instead of the file."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise VeilleError(f"{source + ': ' if source else ''}expected a mapping of keys, got {_shown(data)}")
    overrides = overrides or {}
    try:
        return model.model_validate({**data, **overrides})
    except ValidationError as exc:
        loc, text = problem(first_error(exc), model)
        line = f"{where(loc)}: {text}" if loc else text
        if loc and loc[0] in overrides:  # a command-line value: name its option, not the file
            option = (options or {}).get(loc[0])
            raise VeilleError(f"{option}: {text}" if option else line) from None
        raise VeilleError(f"{source}: {line}" if source else line) from None


def read_yaml(path: Path | str, what: str = "settings file") -> Any:
    """The parsed YAML of ``path``; a missing file or bad YAML is one VeilleError line."""
    path = Path(path)
    if not path.is_file():
        raise VeilleError(f"{path}: no such {what}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark else ""
        raise VeilleError(f"{path}:{at} not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    except UnicodeDecodeError:
        raise VeilleError(f"{path}: not a text file (UTF-8)") from None


class Settings(BaseModel):
    """Base of a domain's settings: strict, frozen, loaded from YAML with one-line errors.

    ``Sub(x=1)`` raises a VeilleError line too, so a bad value from Python reads the same."""

    model_config = STRICT

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise VeilleError(one_line(first_error(exc), type(self))) from None

    # pydantic calls a custom __init__ from model_validate too; mark this one as its own so
    # that validate() still sees the ValidationError (and can name the file or the option)
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def from_dict(cls, data: Any, source: str | None = None) -> Self:
        """Validate a mapping (``source`` names it in errors)."""
        return validate(cls, data, source)

    @classmethod
    def from_yaml(cls, path: Path | str) -> Self:
        """Read and validate a YAML settings file; an empty file gives the defaults."""
        return validate(cls, read_yaml(path), str(path))

    @classmethod
    def load(cls, path: Path | str | None = None, overrides: dict[str, Any] | None = None,
             options: dict[str, str] | None = None) -> Self:
        """The defaults, then the file ``path`` if given, then ``overrides`` (command-line values)."""
        data = read_yaml(path) if path is not None else {}
        return validate(cls, data, str(path) if path is not None else None, overrides, options)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready), e.g. for the ``settings`` column of a run."""
        return self.model_dump(mode="json")
