"""DCIR service lines of one chunk as columns (before flows and join keys are attached)."""

from __future__ import annotations

import numpy as np

DETAIL_NONE, DETAIL_PHA, DETAIL_CAM, DETAIL_BIO, DETAIL_ETE = 0, 1, 2, 3, 4

_DEFAULTS: dict[str, tuple[object, object]] = {
    # column: (dtype, default)
    "patient": (np.int32, 0),
    "day": (np.int32, 0),
    "nature": (np.int16, 0),
    "qty": (np.int16, 1),
    "paid": (np.int32, 0),
    "reimb": (np.int32, 0),
    "exe": ("S9", b""),
    "exe_spe": (np.int8, 0),
    "pre": ("S9", b""),
    "pre_spe": (np.int8, 0),
    "dpn": (np.int8, 0),
    "detail": (np.int8, DETAIL_NONE),
    "pack": (np.int16, -1),
    "code": ("S7", b""),  # CCAM act or NABM code
    "ete_fin": ("S9", b""),
    "ete_taa": (np.int8, 0),
    "ete_cat": (np.int16, 0),
    "flow_lag": (np.int8, -1),  # months between care and flow; -1 = draw it
}


def batch(n: int, **cols: object) -> dict[str, np.ndarray]:
    """Columns of ``n`` lines; scalars broadcast, missing columns take their default."""
    out: dict[str, np.ndarray] = {}
    for name, (dtype, default) in _DEFAULTS.items():
        v = cols.pop(name, default)
        arr = np.empty(n, dtype=dtype)
        arr[:] = v
        out[name] = arr
    if cols:
        raise KeyError(f"unknown line columns: {sorted(cols)}")
    return out


def concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]).astype(_DEFAULTS[k][0], copy=False)
            for k in _DEFAULTS}


def take(lines: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in lines.items()}
