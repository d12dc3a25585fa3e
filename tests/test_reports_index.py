"""reports/index.html lists every report under the reports folder, with the extracts loaded."""

from __future__ import annotations

import re

from test_load import MINI
from veille.load import load_extract
from veille.reports_index import refresh_for, write_index


def test_the_index_lists_every_kind_of_report_and_the_extracts(migrated_db, tmp_path):
    load_extract(MINI)
    reports = tmp_path / "reports"
    for page in ("rosiglitazone_vs_pioglitazone/index.html", "scan/scan.html",
                 "pathways/pathways_run_3.html", "fraud/fraud_report.html"):
        (reports / page).parent.mkdir(parents=True, exist_ok=True)
        (reports / page).write_text("<html></html>")
    (reports / "notes.txt").write_text("not a report")

    out = write_index(reports)
    text = out.read_text()
    rows = re.findall(r'<tr><td>([^<]+)</td><td><a href="([^"]+)">([^<]+)</a></td>', text)
    assert rows == [
        ("study", "rosiglitazone_vs_pioglitazone/index.html",
         "Rosiglitazone vs pioglitazone, heart failure and myocardial infarction"),
        ("signal scan", "scan/scan.html", "scan"),
        ("care pathways", "pathways/pathways_run_3.html", "pathways run 3"),
        ("fraud and misuse", "fraud/fraud_report.html", "fraud report"),
    ]
    assert re.search(r"<code>mini</code> \(\d{4}-\d{2}-\d{2}\)", text)


def test_a_report_written_into_a_reports_folder_refreshes_its_index(migrated_db, tmp_path):
    page = tmp_path / "reports" / "fraud" / "fraud_report.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html></html>")
    assert refresh_for(page) == tmp_path / "reports" / "index.html"
    assert 'href="fraud/fraud_report.html"' in (tmp_path / "reports" / "index.html").read_text()
    elsewhere = tmp_path / "one_report.html"
    elsewhere.write_text("<html></html>")
    assert refresh_for(elsewhere) is None
