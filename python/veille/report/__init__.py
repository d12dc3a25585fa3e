"""The report kit: every HTML report veille writes (study, signal scan, care pathways, fraud, the
reports index) is built here, the same way.

- one layout (``templates/layout.html``): title, the question the report answers, when it was
  written and from which extract, the small-cell note, a link back to ``reports/index.html``;
- charts are plotly figures (:meth:`Report.figure`), plotly's library inlined once in the page so
  that the file opens offline;
- each section names where its numbers are computed (the mart it reads, the function that
  computes them), under its title;
- tables come from DataFrames (:meth:`Report.table`): the columns named as counts are masked
  there (``<10``, veille.privacy), the rest formatted, everything escaped;
- the boundary: :meth:`Report.write` audits the finished page (veille.audit, the same rules as
  ``veille audit exports``) and refuses to write it if a count from 1 to 9 could be read or
  recovered from it; then it refreshes the reports index (veille.report.index).

A domain package keeps only what is its own: its queries, its figures, its sections.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from veille.errors import VeilleError
from veille.privacy import THRESHOLD, mask_count

TEMPLATES = Path(__file__).parent / "templates"


def _num(digits: int) -> Callable[[Any], str]:
    def fmt(v: Any) -> str:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"
    return fmt


ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, keep_trailing_newline=True)
ENV.filters["n"] = mask_count
ENV.filters["f1"] = _num(1)
ENV.filters["f2"] = _num(2)
ENV.filters["source"] = lambda s: source_line(s)


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT


def cell(v: Any, digits: int | None = None) -> str:
    """One table cell as text: missing -> empty, floats rounded (``digits``, else 3 significant
    decimals), dates as ISO."""
    if isinstance(v, Decimal):
        v = float(v)
    if _is_missing(v):
        return ""
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits if digits is not None else 3}f}"
    if isinstance(v, dt.datetime | pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    return str(v)


def table_html(
    df: pd.DataFrame,
    counts: Iterable[str] = (),
    *,
    digits: Mapping[str, int] | None = None,
    left: Iterable[str] | None = None,
    headers: Mapping[str, str] | None = None,
    row_class: Callable[[pd.Series], str] | None = None,
    cell_class: Callable[[str, Any], str] | None = None,
    shown: Mapping[str, Iterable[str]] | None = None,
) -> Markup:
    """A DataFrame as an HTML table. The ``counts`` columns are masked (``<10``); ``digits``
    rounds float columns; ``left`` aligns columns left (default: the text columns); ``headers``
    renames columns for display; ``row_class`` / ``cell_class`` set CSS classes (``hl``,
    ``flag``); ``shown`` gives columns already turned into text (a suppression the domain did)."""
    counts = set(counts)
    missing = counts - set(df.columns)
    if missing:
        raise ValueError(f"count columns not in the table: {sorted(missing)}")
    digits = dict(digits or {})
    headers = dict(headers or {})
    if left is None:
        left = [c for c in df.columns if c not in counts and df[c].dtype == object]
    left = set(left)
    shown = {c: list(v) for c, v in (shown or {}).items()}
    out = ['<div class="tw"><table><thead><tr>']
    for c in df.columns:
        out.append(f'<th{" class=l" if c in left else ""}>{escape(headers.get(c, c))}</th>')
    out.append("</tr></thead><tbody>")
    for i, (_, row) in enumerate(df.iterrows()):
        cls = row_class(row) if row_class else ""
        out.append(f'<tr class="{escape(cls)}">' if cls else "<tr>")
        for c in df.columns:
            v = row[c]
            text = shown[c][i] if c in shown else mask_count(v) if c in counts else cell(v, digits.get(c))
            classes = " ".join(x for x in ("l" if c in left else "", cell_class(c, v) if cell_class else "") if x)
            out.append(f'<td class="{classes}">{escape(text)}</td>' if classes else f"<td>{escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return Markup("".join(out))


def source_line(source: str) -> Markup:
    """Where a section's numbers are computed: the marts read and the function that computes
    them ("marts.fct_study_survival -> veille.study.rates.incidence_rates")."""
    return Markup('<p class="src">computed from ') + escape(source) + Markup("</p>") if source else Markup("")


def figure_html(fig: go.Figure) -> Markup:
    """A plotly figure as a div (plotly's library is inlined once in the page's head)."""
    fig.update_layout(template="plotly_white")
    return Markup(fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False}))


def loaded_extracts() -> list[str]:
    """The extracts loaded in the warehouse (meta.load_run), oldest first; none when no database
    is at hand (writing a report never starts the embedded server)."""
    import sqlalchemy as sa

    from veille import db

    if not os.environ.get("VEILLE_DATABASE_URL") and db.embedded_status() is None:
        return []
    try:
        with db.engine(db.ENGINEER).connect() as conn:
            rows = conn.execute(sa.text(
                "select extract_dir, max(finished_at) from meta.load_run "
                "where status = 'done' and files_loaded > 0 group by 1 order by 2")).all()
    except (sa.exc.SQLAlchemyError, VeilleError):
        return []
    return [Path(d).name for d, _ in rows]


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class Report:
    """One HTML report: blocks (headings, text, tables, figures) rendered in the one layout, or a
    domain template extending it (``template`` + ``context``)."""

    def __init__(self, title: str, kind: str, question: str = "", subtitle: str = "") -> None:
        self.title, self.kind, self.question, self.subtitle = title, kind, question, subtitle
        self.blocks: list[Markup] = []
        self.figures = 0

    # --- blocks ---------------------------------------------------------------------------------
    def heading(self, text: str, level: int = 2, source: str = "") -> None:
        """A section title; ``source`` says where its numbers are computed (shown under it)."""
        self.blocks.append(Markup(f"<h{level}>{escape(text)}</h{level}>") + source_line(source))

    def text(self, text: str, css: str = "") -> None:
        """A paragraph of plain text (escaped)."""
        self.blocks.append(Markup(f'<p class="{escape(css)}">' if css else "<p>") + escape(text) + Markup("</p>"))

    def html(self, markup: str | Markup) -> None:
        """Markup built by the kit or a template (never raw data)."""
        self.blocks.append(Markup(markup))

    def table(self, df: pd.DataFrame, counts: Iterable[str] = (), **kw: Any) -> None:
        self.blocks.append(table_html(df, counts, **kw))

    def figure(self, fig: go.Figure) -> Markup:
        self.figures += 1
        div = figure_html(fig)
        self.blocks.append(div)
        return div

    def row(self, *parts: Markup) -> None:
        """Blocks side by side."""
        self.blocks.append(Markup('<div class="row">') + Markup("").join(parts) + Markup("</div>"))

    def chart(self, fig: go.Figure) -> Markup:
        """A figure's div for a domain template (counted, so the page inlines plotly's library)."""
        self.figures += 1
        return figure_html(fig)

    # --- the page -------------------------------------------------------------------------------
    def render(self, template: str = "layout.html", index_href: str | None = "../index.html",
               extracts: list[str] | None = None, **context: Any) -> str:
        from plotly.offline import get_plotlyjs

        return ENV.get_template(template).render(
            title=self.title, kind=self.kind, question=self.question, subtitle=self.subtitle,
            written=now(), extracts=loaded_extracts() if extracts is None else extracts,
            threshold=THRESHOLD, index_href=index_href, blocks=self.blocks,
            plotly_js=get_plotlyjs() if self.figures else "", **context)

    def write(self, path: str | Path, template: str = "layout.html", refresh_index: bool = True,
              **context: Any) -> Path:
        """Render, audit (no count from 1 to 9 readable or recoverable), write, refresh the index."""
        from veille.audit import audit_text

        path = Path(path)
        text = self.render(template, **context)
        found = audit_text(path.name, text).findings
        if found:
            more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
            f = found[0]
            raise VeilleError(f"{path}: not written, a small cell would leave: {f.where}: {f.value}: {f.why}{more}")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        if refresh_index:
            from veille.report.index import refresh_for

            refresh_for(path)
        return path
