"""`reports/index.html`: one page linking every report under the reports folder — the studies
(`<study>/index.html`), the signal scan (`scan/*.html`), the care pathways (`pathways/*.html`) and
the fraud screening (`fraud/*.html`) — with when each was written and from which extract. Each
report the kit writes carries these in its head (``<meta name="veille-...">``); a page written
by something else is listed by its folder and file date. Every report the kit writes into a
reports folder refreshes the index (:func:`refresh_for`)."""

from __future__ import annotations

import datetime as dt
import re
from html import unescape
from pathlib import Path

from veille.report import Report, loaded_extracts

FOLDERS = {"scan": ("signal scan", "every drug x every outcome, ranked"),
           "pathways": ("care pathways", "care use, guideline indicators, trajectories"),
           "fraud": ("fraud and misuse", "alerts of the sweep: doctor shopping, outlier providers")}
_META = re.compile(r'<meta name="veille-(\w+)" content="([^"]*)">')
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


def describe(page: Path, kind: str, question: str) -> dict[str, str]:
    """What the index shows of one report: from the kit's meta tags, else from the file."""
    head = page.read_text(encoding="utf-8", errors="replace")[:4000]
    meta = {k: unescape(v) for k, v in _META.findall(head)}
    title = _TITLE.search(head)
    written = dt.datetime.fromtimestamp(page.stat().st_mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {"kind": meta.get("kind") or kind,
            "title": unescape(title.group(1)).strip() if title and title.group(1).strip() else page.stem.replace("_", " "),
            "question": meta.get("question") or question, "written": meta.get("written") or written,
            "extracts": meta.get("extracts", "")}


def write_index(report_dir: Path) -> Path:
    """Write ``report_dir/index.html`` listing every report under it."""
    report_dir = Path(report_dir)
    rows = [{**describe(page, "study", ""), "href": f"{page.parent.name}/index.html"}
            for page in sorted(report_dir.glob("*/index.html"))]
    for folder, (kind, question) in FOLDERS.items():
        rows += [{**describe(page, kind, question), "href": f"{folder}/{page.name}"}
                 for page in sorted((report_dir / folder).glob("*.html"))]
    index = Report("veille reports", "index")
    return index.write(report_dir / "index.html", template="index.html", refresh_index=False,
                       index_href=None, rows=rows, extracts=loaded_extracts())


def refresh_for(report: Path) -> Path | None:
    """After a report is written: refresh the index of the reports folder it sits in (the
    project's ``reports/``, or the folder above a ``scan``/``pathways``/``fraud`` folder)."""
    report = Path(report).resolve()
    folder = report.parent
    if folder.name in FOLDERS:
        return write_index(folder.parent)
    return None
