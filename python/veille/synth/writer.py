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
    """String lookups for day numbers and integers."""

    def __init__(self, first_day: int, last_day: int) -> None:
        self.base = first_day
        days = np.arange(first_day, last_day + 1).astype("datetime64[D]")
        iso = np.datetime_as_string(days, unit="D").astype(object)
        self.iso_lut = iso
        self.ddmmyyyy_lut = np.array([s[8:10] + s[5:7] + s[0:4] for s in iso], dtype=object)
        self.yyyymm_lut = np.array([s[0:4] + s[5:7] for s in iso], dtype=object)
        self.int_lut = np.arange(0, 100_000).astype(str).astype(object)
        self.cent_lut = np.array([f"{i:02d}" for i in range(100)], dtype=object)

    def iso(self, day: np.ndarray) -> np.ndarray:
        return self.iso_lut[np.asarray(day) - self.base]

    def ddmmyyyy(self, day: np.ndarray) -> np.ndarray:
        return self.ddmmyyyy_lut[np.asarray(day) - self.base]

    def yyyymm(self, day: np.ndarray) -> np.ndarray:
        return self.yyyymm_lut[np.asarray(day) - self.base]

    def num(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.int64)
        if len(x) and x.min() >= 0 and x.max() < len(self.int_lut):
            return self.int_lut[x]
        return x.astype(str).astype(object)

    def money(self, cents: np.ndarray) -> np.ndarray:
        cents = np.asarray(cents, dtype=np.int64)
        a = np.abs(cents)
        s = self.num(a // 100) + "." + self.cent_lut[a % 100]
        return np.where(cents < 0, "-" + s, s)


def render(table: str, cols: dict[str, object], n: int) -> str:
    """CSV lines (no header) of ``table``: ``cols`` maps column -> array of str or a constant."""
    unknown = set(cols) - set(COLUMNS[table])
    if unknown:
        raise KeyError(f"{table}: not official columns {sorted(unknown)}")
    if n == 0:
        return ""
    acc: np.ndarray | None = None
    pending = ""
    for i, name in enumerate(COLUMNS[table]):
        if i:
            pending += ";"
        if name not in cols:
            continue
        v = cols[name]
        if isinstance(v, str):
            pending += v
            continue
        if acc is None:
            acc = pending + v if pending else np.asarray(v, dtype=object)
        else:
            acc = acc + (pending + v) if len(pending) > 0 else acc + v
        pending = ""
    if acc is None:
        return (pending + "\n") * n
    return "".join((acc + (pending + "\n")).tolist())


def header(table: str) -> str:
    return ";".join(COLUMNS[table]) + "\n"


class Sink:
    """Appends rendered text to the extract's files, creating each with its header."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.created: set[str] = set()
        self.rows: dict[str, int] = {}

    def append(self, file_name: str, table: str, text: str, rows: int) -> None:
        path = self.root / file_name
        mode = "a"
        if file_name not in self.created:
            self.created.add(file_name)
            mode = "w"
        with open(path, mode, encoding="utf-8", newline="") as fh:
            if mode == "w":
                fh.write(header(table))
            fh.write(text)
        self.rows[table] = self.rows.get(table, 0) + rows

    def touch(self, file_name: str, table: str) -> None:
        if file_name not in self.created:
            self.append(file_name, table, "", 0)
