"""`reports/index.html`: one page linking every report under the reports folder — the studies
(`<study>/index.html`), the signal scan (`scan/*.html`), the care pathways (`pathways/*.html`) and
the fraud screening (`fraud/*.html`) — with when each was written and the extracts the
warehouse held when the index was refreshed. Every command that writes a report there
refreshes it."""

from __future__ import annotations

import datetime as dt
import html
import os
from pathlib import Path

import sqlalchemy as sa
from jinja2 import Environment

from veille import db
from veille.errors import VeilleError

_FOLDERS = (("scan", "signal scan", "every drug x every outcome, ranked"),
            ("pathways", "care pathways", "care use, guideline indicators, trajectories"),
            ("fraud", "fraud and misuse", "alerts of the sweep: doctor shopping, outlier providers"))

_TEMPLATE = Environment(autoescape=True).from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>veille reports</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.5em 0 1.2em;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f3f3f3}</style></head><body>
<h1>veille reports</h1>
<p>Extracts loaded in the warehouse when this index was written:
{% for e in extracts %}<code>{{ e.name }}</code> ({{ e.when }}){% if not loop.last %}, {% endif %}{% else %}unknown{% endfor %}.
Counts below 10 are shown as &lt;10 in every report.</p>
<table><tr><th>kind</th><th>report</th><th>what it answers</th><th>written</th></tr>
{% for r in rows %}<tr><td>{{ r.kind }}</td><td><a href="{{ r.href }}">{{ r.title }}</a></td><td>{{ r.question }}</td><td>{{ r.when }}</td></tr>{% endfor %}
</table></body></html>"""
)


def _when(page: Path) -> str:
    return dt.datetime.fromtimestamp(page.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _extracts() -> list[dict]:
    """The extract folders loaded (meta.load_run), most recent last; none when no database is
    at hand (writing an index never starts the embedded server)."""
    if not os.environ.get("VEILLE_DATABASE_URL") and db.embedded_status() is None:
        return []
    try:
        with db.engine(db.ENGINEER).connect() as conn:
            rows = conn.execute(sa.text(
                "select extract_dir, max(finished_at) from meta.load_run "
                "where status = 'done' and files_loaded > 0 group by 1 order by 2")).all()
    except (sa.exc.SQLAlchemyError, VeilleError):
        return []
    return [{"name": Path(d).name, "when": f"{t:%Y-%m-%d}"} for d, t in rows]


def write_index(report_dir: Path) -> Path:
    """Write ``report_dir/index.html`` listing every report under it."""
    from veille.study.config import load_study, studies_dir

    report_dir = Path(report_dir)
    rows = []
    for page in sorted(report_dir.glob("*/index.html")):
        path = studies_dir() / f"{page.parent.name}.yml"
        title, question = page.parent.name, ""
        if path.is_file():
            st = load_study(path)
            title, question = st.title, st.question
        rows.append({"kind": "study", "href": f"{html.escape(page.parent.name)}/index.html", "title": title,
                     "question": question, "when": _when(page)})
    for folder, kind, question in _FOLDERS:
        for page in sorted((report_dir / folder).glob("*.html")):
            rows.append({"kind": kind, "href": f"{folder}/{page.name}", "title": page.stem.replace("_", " "),
                         "question": question, "when": _when(page)})
    out = report_dir / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_TEMPLATE.render(rows=rows, extracts=_extracts()), encoding="utf-8")
    return out


def refresh_for(report: Path) -> Path | None:
    """After a report is written: refresh the index of the reports folder it sits in (the
    project's ``reports/``, or the folder above a ``scan``/``pathways``/``fraud`` folder)."""
    report = Path(report).resolve()
    folder = report.parent
    if folder.name in {f for f, _, _ in _FOLDERS}:
        return write_index(folder.parent)
    return None
