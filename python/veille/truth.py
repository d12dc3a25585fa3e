"""Reading a synthetic extract's truth.json, for the evaluation commands only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from veille.errors import VeilleError


def read_truth_file(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The truth file (``path`` itself, or ``path/truth.json`` for an extract folder) and its content."""
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    if not p.is_file():
        raise VeilleError(f"truth file not found: {p}")
    try:
        doc = json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise VeilleError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise VeilleError(f"{p}: not a truth file (expected a JSON object)")
    return p, doc
