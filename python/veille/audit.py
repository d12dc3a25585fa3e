"""`veille audit exports DIR`: prove the small-cell rule on every file a user can export.

Every file under DIR is opened: HTML reports (their tables, their text, inline SVG and the data
of the plotly figures they embed), CSV/TSV, JSON (plotly figure JSON included) and SVG. A count
between 1 and 9 shown as a number is a finding; so is one a reader can recover by subtraction
(complementary suppression) or from a rate and its person-time. Which fields are counts is
decided by the explicit rules below, listed in docs/privacy.md; a number matched by no rule is
not a count (a hazard ratio, a year, a day number, a share).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import typer

from veille.errors import VeilleError
from veille.privacy import THRESHOLD  # counts 1..THRESHOLD-1 must not be shown

# --- which fields are counts -------------------------------------------------------------------
# A name (column header, JSON key, plot axis title) is split into lowercase words; it names a
# count when one word is a COUNT_WORD (or the whole name is in COUNT_NAMES) and no word is a
# NOT_COUNT_WORD: "n_exposed", "events comparator", "patients (periods)" are counts;
# "person_years", "adherent_share", "rate", "ci_low", "year", "mean_pdc" are not.
COUNT_WORDS = frozenset({
    "n", "count", "counts", "nb", "number", "size", "frequency", "total", "numerator", "denominator",
    "events", "event", "patients", "persons", "people", "subjects", "cases", "users", "exposed",
    "individuals", "beneficiaries", "deaths", "stays", "admissions", "dispensings", "prescriptions",
    "prescribers", "pharmacies", "observed", "outcomes", "adherent", "members", "peers", "actors",
    "alerted", "entities",
})
COUNT_NAMES = frozenset({
    # the fraud report's alert history (alerts per status) and evaluation
    "new", "persisting", "resolved", "found_in_top_k", "true_in_top_k",
})
NOT_COUNT_WORDS = frozenset({
    "rate", "rates", "share", "ratio", "pct", "percent", "percentage", "proportion", "mean",
    "median", "average", "avg", "sd", "std", "p", "q", "pvalue", "hr", "or", "rr", "irr", "ci",
    "low", "high", "lower", "upper", "year", "years", "day", "days", "month", "months", "week",
    "weeks", "age", "score", "rank", "id", "expected", "smd", "ic", "ic025", "asr", "pdc", "mpr",
    "z", "time", "duration", "per", "amount", "cost", "k", "distance", "silhouette", "bic", "icl",
    "weight", "weights", "auc", "precision", "recall", "level", "run", "step", "units", "seconds",
    "min", "max", "threshold", "limit", "log10", "log2",
})
TOTAL_WORDS = frozenset({"total", "all", "overall", "ensemble", "tous"})
# a table row whose first cell is one of these holds counts (the size of each column's group)
SIZE_ROW_LABELS = frozenset({"n", "subjects", "patients", "persons"})
# whole and part of one population, in one row or one JSON object: whole - part is a count too
WHOLE_PART = (("denominator", "numerator"), ("patients", "adherent"))
# headers of a cell holding two values "a / b": which of the two are counts (the scan report)
PAIR_HEADERS = {
    "ssa drug/outcome first": (True, True),
    "tree risk/control": (True, True),
    "long-term observed / expected": (True, False),
}
# phrases in free text (HTML text, SVG labels, JSON strings, plot titles and hover text)
COUNT_NOUNS = (r"patients?|persons|person(?![-\w])|people|subjects|cases|events?|users|deaths|"
               r"stays|admissions|dispensings|prescriptions|prescribers|pharmacies|actors|alerts|"
               r"members|peers|individuals|beneficiaries|lines")
COUNT_LABELS = r"n|N|exposed|comparator|observed|events|patients|subjects|cases|SSA"
_NUM = r"(?:\d{1,3}(?:[,\u202f\u00a0]\d{3})+|\d+)"
_PHRASES = (
    # "7 patients", "8 events for 12 covariates"
    re.compile(rf"(?<![\w.,<>≥≤/-])({_NUM})\s+(?:{COUNT_NOUNS})\b"),
    # "n = 7", "events (3 < 5)", "observed 4", "SSA 3/12", "events 60 / 342", "exposed 7 · ..."
    re.compile(rf"\b(?:{COUNT_LABELS})\s*(?:=|:|\()?\s*(<?{_NUM})(?![\w.%])(?:\s*/\s*(<?{_NUM})(?![\w.%]))?"),
)
# plotly: trace types whose values are counts, and the fields holding them
PLOTLY_COUNT_FIELDS = {
    "sankey": ("link.value",), "sunburst": ("values",), "treemap": ("values",),
    "icicle": ("values",), "pie": ("values",), "funnelarea": ("values",),
}
# trace types whose x / y are counts when the axis title names a count
PLOTLY_AXIS_TRACES = frozenset({"bar", "scatter", "scattergl", "histogram", "funnel"})
AUDITED = (".html", ".htm", ".csv", ".tsv", ".json", ".svg")

_MASKS = frozenset({"<10", "&lt;10"})
_AT_LEAST = frozenset({"≥10", ">=10", "&ge;10"})


def words(name: str) -> list[str]:
    return [w for w in re.split(r"[^a-z0-9]+", str(name).lower()) if w]


def is_measure_name(name: Any) -> bool:
    """Does this name hold a word of a measure (rate, share, auc, ...), never a count?"""
    return isinstance(name, str) and any(w in NOT_COUNT_WORDS for w in words(name))


def is_count_name(name: Any) -> bool:
    """Does this column header, JSON key or axis title name a count (rules above)?"""
    if not isinstance(name, str):
        return False
    ws = words(name)
    if not ws or any(w in NOT_COUNT_WORDS for w in ws):
        return False
    return "_".join(ws) in COUNT_NAMES or any(w in COUNT_WORDS for w in ws)


# --- values -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Masked:
    """A value shown as ``<10`` (small) or ``≥10`` (hidden to protect a neighbour)."""
    small: bool


Value = int | float | Masked | None


def parse_value(v: Any) -> Value:
    """A cell or a JSON value as a number, a mask or None (not a number)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return None if isinstance(v, float) and not math.isfinite(v) else v
    s = html.unescape(str(v)).strip()
    if s in _MASKS or s == "<10":
        return Masked(True)
    if s in _AT_LEAST:
        return Masked(False)
    if re.fullmatch(_NUM, s):
        return int(re.sub(r"\D", "", s))
    try:
        f = float(s)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def as_count(v: Value) -> int | None:
    """The integer a count value shows, or None (masked, missing, not an integer)."""
    if isinstance(v, Masked) or v is None:
        return None
    if isinstance(v, float):
        return int(v) if v.is_integer() else None
    return v


def is_small(n: int | None) -> bool:
    return n is not None and 1 <= n < THRESHOLD


_PCT_CELL = re.compile(rf"^\s*({_NUM})\s*\(\s*\d+(?:\.\d+)?\s*%\s*\)\s*$")
_PAIR_CELL = re.compile(r"^\s*([^/]+?)\s*/\s*([^/]+?)\s*$")


# --- findings -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    file: str
    where: str
    value: str
    why: str

    def line(self) -> str:
        return f"{self.file}: {self.where}: {self.value}: {self.why}"


@dataclass
class Audit:
    """What one run of the audit saw: files, counts checked, findings."""
    files: int = 0
    counts: int = 0
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        if not self.findings:
            return f"audited {self.files} files, {self.counts} counts: no small cell"
        return (f"audited {self.files} files, {self.counts} counts: {len(self.findings)} "
                f"small cell{'s' if len(self.findings) > 1 else ''} shown")


class _FileAudit:
    def __init__(self, name: str, audit: Audit) -> None:
        self.name, self.audit = name, audit

    def count(self, where: str, v: Value, why: str = "count between 1 and 9 shown") -> None:
        """Check one value known to be a count."""
        self.audit.counts += 1
        n = as_count(v)
        if is_small(n):
            self.audit.findings.append(Finding(self.name, where, str(n), why))

    def recovered(self, where: str, n: int, how: str) -> None:
        if is_small(n):
            self.audit.findings.append(Finding(self.name, where, str(n), f"recoverable: {how}"))

    def text(self, where: str, s: str) -> None:
        """Counts written in free text: 'N patients', 'n = N', 'events (N < 5)'."""
        s = html.unescape(s)
        seen: set[int] = set()
        for rx in _PHRASES:
            for m in rx.finditer(s):
                for g in (1, 2):
                    if g > rx.groups or m.group(g) is None or m.start(g) in seen:
                        continue
                    seen.add(m.start(g))
                    phrase = " ".join(s[max(0, m.start() - 20):m.end() + 20].split())
                    self.count(f"{where}, text '…{phrase}…'", parse_value(m.group(g)),
                               "count between 1 and 9 in text")


# --- tables (HTML and CSV) ----------------------------------------------------------------------
@dataclass
class Table:
    where: str  # "table 3 (after 'Incidence')" or "" for a CSV
    header: list[str]
    rows: list[list[str]]
    section: str = ""  # the h1/h2 heading above it (HTML)


def _col_where(t: Table, r: int, c: int) -> str:
    col = t.header[c] if c < len(t.header) else f"column {c + 1}"
    label = t.rows[r][0] if t.rows[r] else ""
    pre = f"{t.where}, " if t.where else ""
    return f"{pre}row {r + 1} ({label}), column '{col}'"


def _cell_counts(t: Table, c: int, cell: str, count_col: bool) -> list[Value]:
    """The counts a cell shows: a pair 'a / b', 'N (P%)', or the value of a count column."""
    m = _PCT_CELL.match(html.unescape(cell))
    if m:
        return [parse_value(m.group(1))]
    head = t.header[c].lower().strip() if c < len(t.header) else ""
    pm = _PAIR_CELL.match(html.unescape(cell))
    if pm and (count_col or head in PAIR_HEADERS):
        flags = PAIR_HEADERS.get(head, (True, True))
        return [parse_value(x) for x, f in zip(pm.groups(), flags, strict=True) if f]
    return [parse_value(cell)] if count_col else []


def _count_columns(t: Table) -> list[bool]:
    attrition = bool(t.header) and t.header[0].strip().lower() == "step"
    cols = []
    for c in range(max([len(t.header)] + [len(r) for r in t.rows])):
        head = t.header[c] if c < len(t.header) else ""
        masked_sibling = any(c < len(r) and isinstance(parse_value(r[c]), Masked) for r in t.rows)
        cols.append((attrition and c > 0) or is_count_name(head) or (masked_sibling and not is_measure_name(head)))
    return cols


def audit_table(fa: _FileAudit, t: Table) -> None:
    label_counts = [bool(r) and r[0].strip().lower() in SIZE_ROW_LABELS for r in t.rows]
    # with a size row, a column is a group (Table 1: 'non-users of fall-risk drugs'), its header
    # a label: the counts are the size row and the 'N (P%)' cells, the other rows are measures
    cols = [False] * len(_count_columns(t)) if any(label_counts) else _count_columns(t)
    for r, row in enumerate(t.rows):
        for c, cell in enumerate(row):
            counts = _cell_counts(t, c, cell, cols[c] or (label_counts[r] and c > 0))
            for v in counts:
                fa.count(_col_where(t, r, c), v)
            if not counts and cell.strip() and parse_value(cell) is None:
                fa.text(_col_where(t, r, c), cell)
    _whole_part(fa, t)
    _total_rows(fa, t, cols)
    _percent_complements(fa, t, label_counts)
    _rate_times_time(fa, t, cols)
    if t.header and t.header[0].strip().lower() == "step":
        chains = {}
        for c in range(1, len(t.header)):
            for r, row in enumerate(t.rows):
                vals = _cell_counts(t, c, row[c], True) if c < len(row) else []
                for i, v in enumerate(vals):
                    chains.setdefault((c, i), []).append((_col_where(t, r, c), v))
        for chain in chains.values():
            attrition_chain(fa, chain)


def _whole_part(fa: _FileAudit, t: Table) -> None:
    heads = [h.strip().lower() for h in t.header]
    for whole, part in WHOLE_PART:
        if whole in heads and part in heads:
            w, p = heads.index(whole), heads.index(part)
            for r, row in enumerate(t.rows):
                if max(w, p) < len(row):
                    a, b = as_count(parse_value(row[w])), as_count(parse_value(row[p]))
                    if a is not None and b is not None:
                        fa.recovered(_col_where(t, r, w), a - b, f"{whole} {a} - {part} {b}")


def _total_rows(fa: _FileAudit, t: Table, cols: list[bool]) -> None:
    """A row marked total/all (in a non-count cell) and the rows of its parts: the rows that agree
    with it on its other key cells, grouped by the first cell that marks it total; one masked part
    beside a shown total and shown parts is recoverable."""
    keys = [c for c, is_count in enumerate(cols) if not is_count and _is_key(t, c)]
    for r, row in enumerate(t.rows):
        marks = [c for c in keys if c < len(row) and row[c].strip().lower() in TOTAL_WORDS]
        if not marks:
            continue
        same = [c for c in keys if c not in marks]
        parts = [i for i, o in enumerate(t.rows) if i != r
                 and all(c < len(o) and o[c] == row[c] for c in same)
                 and not any(o[c].strip().lower() in TOTAL_WORDS for c in marks if c < len(o))]
        groups: dict[str, list[int]] = {}
        for i in parts:
            groups.setdefault(t.rows[i][marks[0]] if len(marks) > 1 else "", []).append(i)
        for c, is_count in enumerate(cols):
            if not is_count or c in keys:
                continue
            total = as_count(parse_value(row[c])) if c < len(row) else None
            for g in groups.values():
                _partition(fa, t, total, [(i, c) for i in g], f"total row {r + 1}")


def _is_key(t: Table, c: int) -> bool:
    """A label column (text or whole numbers such as a year), not a measure (decimals)."""
    return not any(isinstance(parse_value(r[c]), float) or "." in r[c]
                   for r in t.rows if c < len(r) and parse_value(r[c]) is not None)


def _partition(fa: _FileAudit, t: Table, total: int | None, cells: list[tuple[int, int]], what: str) -> None:
    if total is None or len(cells) < 2:
        return
    vals = [parse_value(t.rows[i][c]) for i, c in cells]
    masked = [k for k, v in enumerate(vals) if isinstance(v, Masked)]
    shown = [as_count(v) for v in vals if not isinstance(v, Masked)]
    if len(masked) == 1 and None not in shown:
        i, c = cells[masked[0]]
        fa.recovered(_col_where(t, i, c), total - sum(shown),
                     f"{what} shows {total} and the other parts {sum(shown)}")


def _percent_complements(fa: _FileAudit, t: Table, label_counts: list[bool]) -> None:
    """'N (P%)' cells of a table with a size row ('subjects', 'n', 'patients'): size - N too."""
    sizes = [r for r, lab in enumerate(label_counts) if lab]
    if not sizes:
        return
    size_row = t.rows[sizes[0]]
    for r, row in enumerate(t.rows):
        for c, cell in enumerate(row):
            m = _PCT_CELL.match(html.unescape(cell))
            if m and c < len(size_row):
                total = as_count(parse_value(size_row[c]))
                if total is not None:
                    n = as_count(parse_value(m.group(1)))
                    fa.recovered(_col_where(t, r, c), total - n,
                                 f"'{size_row[0]}' {total} - {n} (the complement)")


def _rate_times_time(fa: _FileAudit, t: Table, cols: list[bool]) -> None:
    """A masked count beside a rate and its person-time: rate x person-time = the count."""
    heads = [words(h) for h in t.header]
    rate = [c for c, w in enumerate(heads) if "rate" in w and "ci" not in w]
    ptime = [c for c, w in enumerate(heads) if ("person" in w and "years" in w) or w == ["py"]]
    if not rate or not ptime:
        return
    for r, row in enumerate(t.rows):
        if not any(cols[c] and c < len(row) and parse_value(row[c]) == Masked(True) for c in range(len(cols))):
            continue
        for rc in rate:
            for pc in ptime:
                if max(rc, pc) >= len(row):
                    continue
                n = _product_count(row[rc], row[pc])
                if n is not None:
                    fa.recovered(_col_where(t, r, rc), n,
                                 f"rate {row[rc].strip()} x person-years {row[pc].strip()}")


def _decimals(s: str) -> int:
    s = s.strip()
    return len(s.split(".")[1]) if "." in s else 0


def _product_count(rate_s: str, time_s: str) -> int | None:
    """The one integer 1..9 that rate x time / 10^k (k = 0..5) is, within the rounding shown."""
    rate, time = parse_value(rate_s), parse_value(time_s)
    if not isinstance(rate, int | float) or not isinstance(time, int | float) or rate <= 0:
        return None
    dr, dt = 0.5 * 10 ** -_decimals(rate_s), 0.5 * 10 ** -_decimals(time_s)
    for k in range(6):
        lo = (rate - dr) * (time - dt) / 10 ** k
        hi = (rate + dr) * (time + dt) / 10 ** k
        inside = [n for n in range(1, THRESHOLD) if lo <= n <= hi]
        if len(inside) == 1 and hi - lo < 1:
            return inside[0]
    return None


def attrition_chain(fa: _FileAudit, chain: list[tuple[str, Value]]) -> None:
    """Successive counts of one population after each criterion: the number excluded between
    two shown steps is a count."""
    last: tuple[str, int] | None = None
    for where, v in chain:
        n = as_count(v)
        if n is None:  # masked or missing: the next shown step is compared with the last shown
            continue
        if last is not None:
            fa.recovered(where, last[1] - n, f"attrition: {last[1]} before this step, {n} after")
        last = (where, n)


# --- HTML ---------------------------------------------------------------------------------------
class _Html(HTMLParser):
    """Tables, text (with the SVG labels and comments), attrition boxes and scripts of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.texts: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self.boxes: list[tuple[str, str]] = []  # (section, text) of class="box" elements
        self._stack: list[Table] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._header_row = False
        self._heading = ""
        self._in_heading: list[str] | None = None
        self._section = ""
        self._script: list[str] | None = None
        self._style = False
        self._box: list[str] | None = None
        self._box_depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("h1", "h2", "h3", "h4"):
            self._in_heading = []
        elif tag == "table":
            where = f"table {len(self.tables) + len(self._stack) + 1} (after '{self._heading}')"
            self._stack.append(Table(where, [], [], self._section))
        elif tag == "tr" and self._stack:
            self._row, self._header_row = [], True
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
            self._header_row &= tag == "th"
        elif tag == "script":
            self._script = []
        elif tag == "style":
            self._style = True
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")
        if self._box is not None and tag == "div":
            self._box_depth += 1
        elif tag == "div" and "box" in (a.get("class") or "").split():
            self._box, self._box_depth = [], 1

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3", "h4") and self._in_heading is not None:
            self._heading = " ".join("".join(self._in_heading).split())
            if tag in ("h1", "h2"):
                self._section = self._heading
            self._in_heading = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._stack:
            t = self._stack[-1]
            if self._header_row and not t.header and not t.rows:
                t.header = self._row
            elif self._row:
                t.rows.append(self._row)
            self._row = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())
        elif tag == "script" and self._script is not None:
            self.scripts.append("".join(self._script))
            self._script = None
        elif tag == "style":
            self._style = False
        elif tag == "div" and self._box is not None:
            self._box_depth -= 1
            if self._box_depth == 0:
                self.boxes.append((self._section, " ".join(" ".join(self._box).split())))
                self._box = None

    def handle_data(self, data):
        if self._script is not None:
            self._script.append(data)
            return
        if self._style:
            return
        if self._in_heading is not None:
            self._in_heading.append(data)
        if self._box is not None:
            self._box.append(data)
        if self._cell is not None:
            self._cell.append(data)
        elif self._box is None and data.strip():
            self.texts.append((self._heading, data))

    def handle_comment(self, data):  # matplotlib writes every SVG label as a comment too
        if data.strip():
            self.texts.append((self._heading, data))


_PLOTLY_CALL = re.compile(r"Plotly\.(?:newPlot|react)\(\s*")


def _plotly_figures(script: str) -> list[dict]:
    """The data and layout of each Plotly.newPlot("id", data, layout, config) call."""
    out = []
    dec = json.JSONDecoder()
    for m in _PLOTLY_CALL.finditer(script):
        pos, args = m.end(), []
        for _ in range(3):
            try:
                obj, pos = dec.raw_decode(script, pos)
            except ValueError:
                break
            args.append(obj)
            pos = re.compile(r"\s*,?\s*").match(script, pos).end()
        if len(args) >= 2 and isinstance(args[1], list):
            out.append({"data": args[1], "layout": args[2] if len(args) > 2 and isinstance(args[2], dict) else {}})
    return out


def audit_html(fa: _FileAudit, text: str) -> None:
    p = _Html()
    p.feed(text)
    p.close()
    for t in p.tables:
        audit_table(fa, t)
    for heading, s in p.texts:
        fa.text(f"text after '{heading}'" if heading else "text", s)
    by_section: dict[str, list[str]] = {}
    for section, s in p.boxes:
        fa.text(f"box in '{section}'", s)
        by_section.setdefault(section, []).append(s)
    _attrition_boxes(fa, by_section, p.tables)
    n = 0
    for script in p.scripts:
        for fig in _plotly_figures(script):
            n += 1
            audit_plotly(fa, fig, f"plotly figure {n}")
        if script.lstrip().startswith(("{", "[")):
            try:
                audit_json(fa, json.loads(script), "script")
            except ValueError:
                pass


_BOX_COUNT = re.compile(rf"\b([a-z]+)\s+(<10|{_NUM})(?![\w.])")


def _attrition_boxes(fa: _FileAudit, sections: dict[str, list[str]], tables: list[Table]) -> None:
    """The study report's attrition: boxes 'k. criterion exposed N · comparator M' in order, then
    the per-outcome table (header 'step', cells 'exposed / comparator') continues each chain."""
    for section, boxes in sections.items():
        chains: dict[str, list[tuple[str, Value]]] = {}
        for b in boxes:
            step = b.split(".")[0]
            for label, num in _BOX_COUNT.findall(b):
                chains.setdefault(label, []).append((f"attrition box {step} in '{section}', {label}", parse_value(num)))
        for chain in chains.values():
            attrition_chain(fa, chain)
        steps = [t for t in tables if t.header and t.header[0].lower() == "step" and t.section == section]
        labels = list(chains)
        for t in steps:
            for c in range(1, len(t.header)):
                if not t.rows or c >= len(t.rows[0]):
                    continue
                first = _cell_counts(t, c, t.rows[0][c], True)
                for i, v in enumerate(first[:len(labels)]):
                    attrition_chain(fa, [chains[labels[i]][-1], (_col_where(t, 0, c), v)])


# --- plotly -------------------------------------------------------------------------------------
_DTYPES = {"i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "f4": "f", "f8": "d",
           "i8": "q", "u8": "Q"}


def plotly_array(v: Any) -> list:
    """A plotly data array, plain or typed ({"dtype": "i4", "bdata": base64})."""
    if isinstance(v, dict) and "bdata" in v and v.get("dtype") in _DTYPES:
        import array

        a = array.array(_DTYPES[v["dtype"]])
        a.frombytes(base64.b64decode(v["bdata"]))
        return a.tolist()
    if isinstance(v, list):
        return v
    return [] if v is None else [v]


def _get(d: dict, dotted: str) -> Any:
    for k in dotted.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _axis_title(layout: dict, axis: str) -> str:
    t = _get(layout, f"{axis}.title")
    return t.get("text", "") if isinstance(t, dict) else (t or "")


def audit_plotly(fa: _FileAudit, fig: dict, where: str) -> None:
    layout = fig.get("layout") or {}
    for i, trace in enumerate(fig.get("data") or []):
        if not isinstance(trace, dict):
            continue
        kind = trace.get("type", "scatter")
        at = f"{where}, trace {i} ({kind}{', ' + trace['name'] if isinstance(trace.get('name'), str) else ''})"
        fields = list(PLOTLY_COUNT_FIELDS.get(kind, ()))
        if kind in PLOTLY_AXIS_TRACES:
            for axis in ("x", "y"):
                ref = trace.get(f"{axis}axis", axis)
                name = f"{axis}axis{ref[1:]}"
                if is_count_name(_axis_title(layout, name)):
                    fields.append(axis)
        for f in fields:
            for j, v in enumerate(plotly_array(_get(trace, f))):
                fa.count(f"{at}, {f}[{j}]", parse_value(v))
        _strings(fa, trace, at)
    _strings(fa, {k: v for k, v in layout.items() if k != "template"}, f"{where}, layout")


def _strings(fa: _FileAudit, obj: Any, where: str) -> None:
    if isinstance(obj, str):
        fa.text(where, obj)
    elif isinstance(obj, dict) and "bdata" not in obj:  # a typed array is numbers, not text
        for k, v in obj.items():
            if k not in ("hovertemplate", "texttemplate"):
                _strings(fa, v, f"{where}.{k}")
    elif isinstance(obj, list):
        for j, v in enumerate(obj[:10000]):
            _strings(fa, v, f"{where}[{j}]")


# --- JSON ---------------------------------------------------------------------------------------
def _is_plotly(obj: Any) -> bool:
    return (isinstance(obj, dict) and isinstance(obj.get("data"), list)
            and all(isinstance(t, dict) and "type" in t for t in obj["data"]) and bool(obj["data"]))


def audit_json(fa: _FileAudit, obj: Any, where: str = "$") -> None:
    """Keys naming a count hold counts (numbers, lists of numbers, objects of numbers); strings
    are read as text; an object or list of numbers only, one of them "<10", holds counts."""
    if _is_plotly(obj):
        audit_plotly(fa, obj, where)
        return
    if isinstance(obj, dict):
        masked_sibling = _counts_beside_a_mask(list(obj.values()))
        for k, v in obj.items():
            at = f"{where}.{k}"
            if is_count_name(k) or (masked_sibling and not isinstance(v, dict | list) and not is_measure_name(k)):
                _json_counts(fa, v, at)
            else:
                audit_json(fa, v, at)
        for whole, part in WHOLE_PART:
            a, b = as_count(parse_value(obj.get(whole))), as_count(parse_value(obj.get(part)))
            if a is not None and b is not None:
                fa.recovered(f"{where}.{whole}", a - b, f"{whole} {a} - {part} {b}")
    elif isinstance(obj, list):
        masked_sibling = _counts_beside_a_mask(obj)
        for j, v in enumerate(obj):
            if masked_sibling and not isinstance(v, dict | list):
                _json_counts(fa, v, f"{where}[{j}]")
            else:
                audit_json(fa, v, f"{where}[{j}]")
    elif isinstance(obj, str):
        fa.text(where, obj)


def _counts_beside_a_mask(values: list) -> bool:
    """An object or list of numbers only, one of them "<10": they are counts of one kind (but
    for the keys naming a measure)."""
    parsed = [parse_value(v) for v in values]
    return Masked(True) in parsed and all(isinstance(v, int | float | Masked) for v in parsed)


def _json_counts(fa: _FileAudit, v: Any, where: str) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _json_counts(fa, x, f"{where}.{k}")
    elif isinstance(v, list):
        for j, x in enumerate(v):
            _json_counts(fa, x, f"{where}[{j}]")
    elif isinstance(v, str) and parse_value(v) is None:
        fa.text(where, v)
    elif not isinstance(v, bool):
        fa.count(where, parse_value(v))


# --- CSV ----------------------------------------------------------------------------------------
def audit_csv(fa: _FileAudit, text: str, tsv: bool = False) -> None:
    if not text.strip():
        return
    first = text.splitlines()[0]
    delim = "\t" if tsv else max((";", ",", "\t"), key=first.count)
    rows = list(csv.reader(io.StringIO(text), delimiter=delim))
    rows = [r for r in rows if r]
    audit_table(fa, Table("", rows[0], rows[1:]))


# --- files --------------------------------------------------------------------------------------
def audit_path(path: Path, audit: Audit, name: str) -> None:
    fa = _FileAudit(name, audit)
    suffix = path.suffix.lower()
    audit.files += 1
    if suffix not in AUDITED:
        audit.findings.append(Finding(name, "file", path.suffix or "(no suffix)",
                                      f"not an auditable export ({', '.join(AUDITED)}): its counts cannot be checked"))
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        audit.findings.append(Finding(name, "file", "bytes", "not UTF-8 text: its counts cannot be checked"))
        return
    if suffix in (".html", ".htm", ".svg"):
        audit_html(fa, text)
    elif suffix == ".json":
        try:
            audit_json(fa, json.loads(text))
        except ValueError:  # JSON lines
            for i, line in enumerate(text.splitlines()):
                if line.strip():
                    audit_json(fa, json.loads(line), f"line {i + 1}")
    else:
        audit_csv(fa, text, tsv=suffix == ".tsv")


def audit_text(name: str, text: str) -> Audit:
    """Audit one HTML page before it is written (the report kit's boundary, veille.report)."""
    audit = Audit(files=1)
    audit_html(_FileAudit(name, audit), text)
    return audit


def audit_exports(root: Path) -> Audit:
    """Audit every file under ``root`` (a folder, or one file)."""
    root = Path(root)
    if not root.exists():
        raise VeilleError(f"{root}: no such file or folder")
    audit = Audit()
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in files:
        audit_path(p, audit, str(p.relative_to(root)) if p != root else p.name)
    return audit


def register(app: typer.Typer) -> None:
    audit_app = typer.Typer(help="Prove the small-cell rule on exported files.", no_args_is_help=True)

    @audit_app.command("exports")
    def exports_cmd(folder: Path = typer.Argument(..., help="the folder of exports (reports/, ...)")) -> None:
        """Fail (exit 1) on any count from 1 to 9 shown, or recoverable, in any file under FOLDER."""
        result = audit_exports(folder)
        for f in result.findings:
            typer.echo(f.line())
        typer.echo(result.summary())
        if result.findings:
            raise typer.Exit(1)

    app.add_typer(audit_app, name="audit")
