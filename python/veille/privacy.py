"""The small-cell rule (SNDS): every count below 10 leaves veille as ``<10``.

One module for every package that writes a file or prints a count (study, scan, pathways, fraud
reports and exports); ``veille audit exports`` (veille.audit) proves the rule on what they wrote."""

from __future__ import annotations

import math
import re
from typing import Any

import pandas as pd

THRESHOLD = 10
MASK = "<10"


def mask_count(n: Any) -> str:
    """A count as exported text: ``<10`` when 1 <= n < 10 (and 0 too: zero is a small cell)."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return ""
    n = int(n)
    return MASK if n < THRESHOLD else str(n)


def mask_value(n: Any) -> Any:
    """A count for machine-readable export: the int itself, or ``"<10"``."""
    if n is None or (isinstance(n, float) and math.isnan(n)):
        return None
    n = int(n)
    return MASK if n < THRESHOLD else n


def mask_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """A copy of ``df`` with the count ``columns`` masked (values become int or ``<10``)."""
    out = df.copy()
    for col in columns:
        out[col] = out[col].map(mask_value).astype(object)
    return out


_FEWER_THAN = re.compile(r"\((\d+) < (\d+)\)")  # 'too few events (3 < 5)'
_N_EVENTS = re.compile(r"(?<![\w.,<])(\d+)(?= events?\b)")  # '8 events for 12 covariates'


def mask_text(text: str | None) -> str | None:
    """A message with the counts it writes masked: 'too few events (3 < 5)' becomes 'too few
    events (fewer than 5)', '8 events for 12 covariates' becomes '<10 events for 12 covariates'."""
    if not text:
        return text

    def below(m: re.Match) -> str:
        return f"(fewer than {m[2]})" if int(m[1]) < THRESHOLD else m[0]

    return _N_EVENTS.sub(lambda m: mask_count(m[1]), _FEWER_THAN.sub(below, text))


def mask_breakdown(counts: list[int]) -> list[str]:
    """The counts of one breakdown that sums to a total shown elsewhere, as text: below 10 ->
    ``<10``; when that hides a single cell, the smallest other cell is hidden too (``<10`` or
    ``\u226510``), so that no masked count can be recovered by subtraction (complementary
    suppression)."""
    shown = [mask_count(n) for n in counts]
    masked = [i for i, v in enumerate(shown) if v == MASK]
    if len(masked) == 1 and len(counts) > 1:
        other = min((i for i in range(len(counts)) if i != masked[0]), key=lambda i: counts[i])
        shown[other] = MASK if counts[other] < THRESHOLD else f"\u2265{THRESHOLD}"
    return shown
