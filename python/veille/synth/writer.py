"""Fast CSV rendering of SNDS tables: every official column, in order, unused ones empty.

Values are formatted through lookup tables (dates, small integers, amounts) and lines are
built by vectorised string concatenation; files are appended chunk after chunk, the header
written when a file is created. Output bytes depend only on the data (no clock, no locale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from veille.synth.columns import COLUMNS

NO_DATE = "1600-01-01"


class Formatter:
    """Byte-string lookups for day numbers; integer and amount formatting."""

    def __init__(self, first_day: int, last_day: int) -> None:
        self.base = first_day
        days = np.arange(first_day, last_day + 1).astype("datetime64[D]")
        iso = np.datetime_as_string(days, unit="D")
        self.iso_lut = iso.astype("S10")
        self.ddmmyyyy_lut = np.array([s[8:10] + s[5:7] + s[0:4] for s in iso.tolist()], dtype="S8")
        self.yyyymm_lut = np.array([s[0:4] + s[5:7] for s in iso.tolist()], dtype="S6")

    def iso(self, day: np.ndarray) -> np.ndarray:
        return self.iso_lut[np.asarray(day) - self.base]

    def ddmmyyyy(self, day: np.ndarray) -> np.ndarray:
        return self.ddmmyyyy_lut[np.asarray(day) - self.base]

    def yyyymm(self, day: np.ndarray) -> np.ndarray:
        return self.yyyymm_lut[np.asarray(day) - self.base]

    def num(self, x: np.ndarray) -> np.ndarray | tuple:
        """Integers as text (a tuple of parts that render() lays side by side)."""
        x = np.asarray(x, dtype=np.int64)
        if len(x) == 0:
            return x.astype("S1")
        if x.min() < 0:
            return (np.where(x < 0, b"-", b""), *_parts(self.num(np.abs(x))))
        if x.max() < _BASE:
            return _INT[x]
        if x.max() < _BASE * _BASE:
            hi, lo = np.divmod(x, _BASE)
            return (_INT_OR_EMPTY[hi], np.where(hi > 0, _PAD[lo], _INT[lo]))
        return x.astype("S20")

    def money(self, cents: np.ndarray) -> tuple:
        """Amounts in cents as euros with two decimals."""
        cents = np.asarray(cents, dtype=np.int64)
        euros, cts = np.divmod(np.abs(cents), 100)
        return (np.where(cents < 0, b"-", b""), *_parts(self.num(euros)), b".", _PAD2[cts])


_BASE = 100_000
_INT = np.arange(_BASE).astype("S5")
_INT_OR_EMPTY = np.where(np.arange(_BASE) > 0, _INT, b"")
_PAD = np.array([f"{i:05d}" for i in range(_BASE)], dtype="S5")
_PAD2 = np.array([f"{i:02d}" for i in range(100)], dtype="S2")


def _parts(v: object) -> tuple:
    return v if isinstance(v, tuple) else (v,)


def _as_bytes(v: np.ndarray) -> np.ndarray:
    a = np.asarray(v)
    if a.dtype.kind != "S":
        a = a.astype("S")
    return a


def render(table: str, cols: dict[str, object], n: int) -> bytes:
    """CSV lines (no header) of ``table``: ``cols`` maps column -> array or constant string.

    Columns become fixed-width byte matrices (numpy pads with NUL bytes) laid side by side
    with the separators; dropping the NUL bytes leaves the CSV text.
    """
    unknown = set(cols) - set(COLUMNS[table])
    if unknown:
        raise KeyError(f"{table}: not official columns {sorted(unknown)}")
    if n == 0:
        return b""
    blocks: list[np.ndarray] = []
    pending = b""
    for i, name in enumerate(COLUMNS[table]):
        if i:
            pending += b";"
        if name not in cols:
            continue
        for part in _parts(cols[name]):
            if isinstance(part, str | bytes):
                pending += part.encode("ascii") if isinstance(part, str) else part
                continue
            if pending:
                blocks.append(np.broadcast_to(np.frombuffer(pending, np.uint8), (n, len(pending))))
                pending = b""
            a = _as_bytes(part)
            if a.dtype.itemsize:
                blocks.append(a.view(np.uint8).reshape(n, a.dtype.itemsize))
    pending += b"\n"
    blocks.append(np.broadcast_to(np.frombuffer(pending, np.uint8), (n, len(pending))))
    flat = np.concatenate(blocks, axis=1).ravel()
    return flat[flat != 0].tobytes()


def header(table: str) -> bytes:
    return (";".join(COLUMNS[table]) + "\n").encode("ascii")


class Sink:
    """Appends rendered text to the extract's files, creating each with its header."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created: set[str] = set()
        self.rows: dict[str, int] = {}

    def append(self, file_name: str, table: str, text: bytes, rows: int) -> None:
        path = self.root / file_name
        mode = "ab"
        if file_name not in self.created:
            self.created.add(file_name)
            mode = "wb"
        with open(path, mode) as fh:
            if mode == "wb":
                fh.write(header(table))
            fh.write(text)
        self.rows[table] = self.rows.get(table, 0) + rows

    def touch(self, file_name: str, table: str) -> None:
        if file_name not in self.created:
            self.append(file_name, table, b"", 0)
