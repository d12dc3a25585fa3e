"""The report kit (veille.report): one layout, tables masked at the boundary, a page refused when
a small cell would leave; reports/index.html lists every report with its date and extract."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from test_load import MINI
from veille.errors import VeilleError
from veille.load import load_extract
from veille.report import Report, table_html
from veille.report.index import refresh_for, write_index


def test_a_table_masks_its_count_columns_and_formats_the_rest():
    df = pd.DataFrame({"drug": ["A10BG03", "N05BA01<script>"], "patients": [120, 4],
                       "rate": [0.12345, float("nan")]})
    assert table_html(df, counts=["patients"], digits={"rate": 2}) == (
        '<div class="tw"><table><thead><tr><th class=l>drug</th><th>patients</th><th>rate</th></tr></thead><tbody>'
        '<tr><td class="l">A10BG03</td><td>120</td><td>0.12</td></tr>'
        '<tr><td class="l">N05BA01&lt;script&gt;</td><td>&lt;10</td><td></td></tr></tbody></table></div>')
    with pytest.raises(ValueError, match=r"count columns not in the table: \['events'\]"):
        table_html(df, counts=["events"])


def test_a_page_that_would_show_a_small_count_is_not_written(tmp_path):
    page = Report("leaky", "signal scan")
    page.table(pd.DataFrame({"group": ["a", "b"], "patients": [25, 4]}))  # counts not declared
    out = tmp_path / "scan" / "leaky.html"
    with pytest.raises(VeilleError) as err:
        page.write(out)
    assert str(err.value) == (f"{out}: not written, a small cell would leave: table 1 (after "
                              "'leaky'), row 2 (b), column 'patients': 4: count between 1 and 9 shown")
    assert not out.exists() and not (tmp_path / "index.html").exists()


def test_the_index_lists_every_kind_of_report_with_its_date_and_extract(migrated_db, tmp_path):
    load_extract(MINI)
    reports = tmp_path / "reports"
    for path, title, kind in (("rosiglitazone_vs_pioglitazone/index.html", "Rosiglitazone vs pioglitazone", "study"),
                              ("scan/scan.html", "Drug-safety screen, run 1", "signal scan"),
                              ("fraud/fraud_report.html", "Fraud and misuse screening", "fraud and misuse")):
        page = Report(title, kind, "a question?")
        page.table(pd.DataFrame({"group": ["a"], "patients": [40]}), counts=["patients"])
        page.write(reports / path)
    foreign = reports / "pathways" / "pathways_run_3.html"  # not written by the kit
    foreign.parent.mkdir()
    foreign.write_text("<html></html>")
    (reports / "notes.txt").write_text("not a report")

    text = write_index(reports).read_text()
    rows = re.findall(r'<tr><td class=l>([^<]+)</td><td class=l><a href="([^"]+)">([^<]+)</a></td>'
                      r'<td class=l>([^<]*)</td><td class=l>([^<]+)</td><td class=l>([^<]*)</td></tr>', text)
    when = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"
    assert [(k, h, t, q, e) for k, h, t, q, _, e in rows] == [
        ("study", "rosiglitazone_vs_pioglitazone/index.html", "Rosiglitazone vs pioglitazone", "a question?", "mini"),
        ("signal scan", "scan/scan.html", "Drug-safety screen, run 1", "a question?", "mini"),
        ("care pathways", "pathways/pathways_run_3.html", "pathways run 3",
         "care use, guideline indicators, trajectories", ""),
        ("fraud and misuse", "fraud/fraud_report.html", "Fraud and misuse screening", "a question?", "mini"),
    ]
    assert all(re.fullmatch(when, w) for *_, w, _ in rows)
    assert "from the extract <code>mini</code>" in text
    scan = (reports / "scan" / "scan.html").read_text()
    assert 'from the extract <code>mini</code>' in scan and 'href="../index.html"' in scan


def test_a_report_written_into_a_reports_folder_refreshes_its_index(tmp_path):
    page = Report("Fraud and misuse screening", "fraud and misuse")
    out = page.write(tmp_path / "reports" / "fraud" / "fraud_report.html")
    assert 'href="fraud/fraud_report.html"' in (tmp_path / "reports" / "index.html").read_text()
    assert refresh_for(out) == tmp_path / "reports" / "index.html"
    elsewhere = Report("one", "signal scan").write(tmp_path / "one_report.html")
    assert refresh_for(elsewhere) is None
    assert not (tmp_path / "index.html").exists()
