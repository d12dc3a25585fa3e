"""`veille audit exports`: exact findings on hand-written exports, none on masked ones or on
numbers that are not counts, and none on every file the suite's report tests export."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from typer.testing import CliRunner
from veille.audit import audit_exports, is_count_name
from veille.cli import app


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lines(folder: Path) -> list[str]:
    return [f.line() for f in audit_exports(folder).findings]


def plotly_page(fig: go.Figure) -> str:
    return f"<html><body>{fig.to_html(full_html=False, include_plotlyjs=False)}</body></html>"


def test_plotly_trace_holding_a_3(tmp_path):
    bar = go.Figure(go.Bar(x=["2016", "2017"], y=[12, 3], name="new users"))
    bar.update_layout(yaxis_title="patients", xaxis_title="year")
    write(tmp_path, "bar.html", plotly_page(bar))
    sankey = go.Figure(go.Sankey(node={"label": ["a", "b", "c"]},
                                 link={"source": [0, 0], "target": [1, 2], "value": [40, 3]}))
    write(tmp_path, "flows.html", plotly_page(sankey))
    assert lines(tmp_path) == [
        "bar.html: plotly figure 1, trace 0 (bar, new users), y[1]: 3: count between 1 and 9 shown",
        "flows.html: plotly figure 1, trace 0 (sankey), link.value[1]: 3: count between 1 and 9 shown",
    ]


def test_csv_count_column_holding_a_7(tmp_path):
    write(tmp_path, "counts.csv", "drug,year,n,hr,pct\nA10BG02,2016,7,3.2,4.5\nA10BG03,2017,25,0.8,5\n")
    write(tmp_path, "fr.csv", "classe;patients\nB01AC;<10\nB01AF;8\n")
    assert lines(tmp_path) == [
        "counts.csv: row 1 (A10BG02), column 'n': 7: count between 1 and 9 shown",
        "fr.csv: row 2 (B01AF), column 'patients': 8: count between 1 and 9 shown",
    ]


def test_json_events_4(tmp_path):
    write(tmp_path, "result.json", json.dumps(
        {"study": "x", "hr": 3.2, "year": 2016, "rows": [{"outcome": "mi", "events": 4}],
         "events": 4, "message": "too few events (3 < 5)", "mix": {"a": "<10", "b": 6}}))
    assert lines(tmp_path) == [
        "result.json: $.rows[0].events: 4: count between 1 and 9 shown",
        "result.json: $.events: 4: count between 1 and 9 shown",
        "result.json: $.message, text '…too few events (3 < 5)…': 3: count between 1 and 9 in text",
        "result.json: $.mix.b: 6: count between 1 and 9 shown",
    ]


def test_total_minus_shown_cells_reveals_a_masked_4(tmp_path):
    # complementary suppression: the total and every cell but one are shown
    write(tmp_path, "by_sex.csv", "measure,sex,year,events,person_years\n"
                                  "visits,all,2016,34,120.5\nvisits,men,2016,30,60.1\nvisits,women,2016,<10,60.4\n"
                                  "visits,all,2017,50,130.0\nvisits,men,2017,<10,65.2\nvisits,women,2017,<10,64.8\n")
    write(tmp_path, "table.html", "<h2>Cases</h2><table><tr><th>age</th><th>cases</th></tr>"
                                  "<tr><td>18-64</td><td>20</td></tr><tr><td>65+</td><td>&lt;10</td></tr>"
                                  "<tr><td>total</td><td>24</td></tr></table>")
    assert lines(tmp_path) == [
        "by_sex.csv: row 3 (visits), column 'events': 4: recoverable: total row 1 shows 34 and the other parts 30",
        ("table.html: table 1 (after 'Cases'), row 2 (65+), column 'cases': 4: recoverable: total row 3 shows 24 "
        "and the other parts 20"),
    ]


def test_other_recoverable_counts(tmp_path):
    # a row of N and its part, a proportion's complement, a rate and its person-time, attrition
    write(tmp_path, "indicators.csv", "indicator,denominator,numerator,rate\nhba1c,40,35,\n")
    write(tmp_path, "table1.html", "<h3>Table 1</h3><table><tr><th>covariate</th><th>drug</th></tr>"
                                   "<tr><td>subjects</td><td>87</td></tr><tr><td>female</td><td>80 (92.0%)</td></tr></table>")
    write(tmp_path, "rates.html", "<h3>Incidence</h3><table><tr><th>group</th><th>events</th><th>person-years</th>"
                                  "<th>rate</th></tr><tr><td>a</td><td>&lt;10</td><td>90.1</td><td>77.71</td></tr></table>")
    write(tmp_path, "flow.html", "<h2>a vs b</h2><div class=\"box\">1. new users<br>exposed 98 &middot; comparator 50</div>"
                                 "<div class=\"box\">2. washout<br>exposed 92 &middot; comparator 20</div>")
    assert lines(tmp_path) == [
        "flow.html: attrition box 2 in 'a vs b', exposed: 6: recoverable: attrition: 98 before this step, 92 after",
        "indicators.csv: row 1 (hba1c), column 'denominator': 5: recoverable: denominator 40 - numerator 35",
        "rates.html: table 1 (after 'Incidence'), row 1 (a), column 'rate': 7: recoverable: rate 77.71 x person-years 90.1",
        ("table1.html: table 1 (after 'Table 1'), row 2 (female), column 'drug': 7: recoverable: 'subjects' 87 - 80 "
        "(the complement)"),
    ]


def test_masked_files_and_numbers_that_are_not_counts(tmp_path):
    write(tmp_path, "ok.csv", "drug,year,day,n,events,hr,ci_low,adherent_share,person_years\n"
                              "A,2016,3,<10,<10,3.2,1.5,0.4,7.5\nB,2017,5,120,45,2.1,1.1,0.8,3.0\n")
    write(tmp_path, "ok.json", json.dumps({"hr": 3.2, "year": 2016, "day": 3, "share": 0.04, "rank": 2,
                                           "events": "<10", "patients": 120, "k": 4,
                                           "message": "too few events (fewer than 5), 5 per covariate"}))
    rates = go.Figure(go.Scatter(x=[2015, 2016], y=[1.5, 3.0], name="gp visits"))
    rates.update_layout(title="Cluster 3: 120 patients", xaxis_title="year", yaxis_title="per person-year")
    write(tmp_path, "rates.html", plotly_page(rates) + "<p>Run 3, step 2: counts below 10 are shown as &lt;10; "
                                                       "n = &lt;10, 3 not estimable, 8 covariates, day 5.</p>")
    result = audit_exports(tmp_path)
    assert result.findings == []
    assert result.summary() == "audited 3 files, 8 counts: no small cell"


def test_count_field_rules():
    for name in ("n", "n_exposed", "events comparator", "patients (periods)", "cases", "numerator", "new"):
        assert is_count_name(name), name
    for name in ("hr", "year", "day", "person_years", "adherent_share", "rate", "95% CI", "mean_pdc",
                 "months since initiation", "drug"):
        assert not is_count_name(name), name


def test_command_exit_codes(tmp_path):
    write(tmp_path, "bad/counts.csv", "drug,n\nA,7\n")
    write(tmp_path, "bad/figure.png", "not text")
    write(tmp_path, "good/counts.csv", "drug,n\nA,<10\nB,12\n")
    runner = CliRunner()
    bad = runner.invoke(app, ["audit", "exports", str(tmp_path / "bad")])
    assert bad.exit_code == 1
    assert bad.output.splitlines() == [
        "counts.csv: row 1 (A), column 'n': 7: count between 1 and 9 shown",
        ("figure.png: file: .png: not an auditable export (.html, .htm, .csv, .tsv, .json, .svg): its counts "
        "cannot be checked"),
        "audited 2 files, 1 counts: 2 small cells shown",
    ]
    good = runner.invoke(app, ["audit", "exports", str(tmp_path / "good")])
    assert (good.exit_code, good.output) == (0, "audited 1 files, 2 counts: no small cell\n")


def test_study_report_of_small_groups_passes(tmp_path):
    """The study report masks small counts, the rates resting on them and the attrition steps
    that would give a small number of excluded subjects by subtraction."""
    from veille.study.analysis import Settings, analyse_outcome
    from veille.study.config import ANALYSES, PATIENT_COVARIATES, find_study
    from veille.study.report import write_report
    from veille.study.run import StudyRun
    from veille.study.simulate import simulate_survival

    study = find_study("rosiglitazone_vs_pioglitazone")
    cid = study.cohort_id(study.comparisons[0])
    settings = Settings(tuple(a for a in ANALYSES if a != "cumulative_exposure"), PATIENT_COVARIATES)
    outcomes = [analyse_outcome(simulate_survival(n, 2.0, seed=s), settings, cohort_id=cid, outcome_id=o,
                                exposure="rosiglitazone", comparator="pioglitazone")
                for n, s, o in ((3000, 1, "heart_failure"), (60, 2, "myocardial_infarction"))]
    attrition = pd.DataFrame({"cohort_id": cid, "outcome_id": [None] * 4 + ["heart_failure", "myocardial_infarction"],
                              "step": [1, 2, 3, 4, 5, 5], "criterion": ["new", "washout", "age", "sex", "lookback", "lookback"],
                              "n_exposed": [5000, 4000, 3995, 3990, 1503, 31], "n_comparator": [4000, 3000, 2000, 1510, 1497, 29]})
    page = write_report(StudyRun(study, 7, outcomes, attrition), tmp_path)
    assert audit_exports(tmp_path).findings == []
    text = page.read_text()
    # 4000 - 3995 and 3995 - 3990 would give 5 excluded: the two are hidden, 5000 - 3990 is not small
    assert "exposed \u2013 &middot; comparator 3000" in text and "exposed 3990 &middot; comparator 1510" in text
    assert "too few events (fewer than 5)" in text or "<10 events" in text or "&lt;10 events" in text


# the files the report tests of this suite export, by test module (see the `exports` fixture)
SUITE_EXPORTS = {
    "test_study_validation.py": ["studies/index.html", "studies/fall_risk_hip_fracture/index.html",
                                 "studies/results.json", "studies/results.csv"],
    "test_study_registry.py": ["registry/results.json", "registry/results.csv"],
    "test_scan_warehouse.py": ["scan/scan.html", "scan/evaluate.json"],
    "test_ddi_warehouse.py": ["scan/interactions.html"],
    "test_pathways_warehouse.py": ["pathways/pathways.html", "pathways/evaluate.json"],
    "test_fraud_warehouse.py": ["fraud/fraud_report.html", "fraud/evaluate.json"],
}


@pytest.mark.after_exports
def test_every_file_the_suite_exports_passes(request, exports):
    """Runs after every other test (conftest): audits what the report tests wrote."""
    modules = {Path(str(item.fspath)).name for item in request.session.items}
    expected = [f for m, files in SUITE_EXPORTS.items() if m in modules for f in files]
    if not expected:
        pytest.skip("no report test in this session: run the whole suite")
    missing = [f for f in expected if not (exports / f).is_file()]
    assert missing == [], "a report test did not write its export (failed or skipped?)"
    out = CliRunner().invoke(app, ["audit", "exports", str(exports)])
    assert out.exit_code == 0, out.output
    assert out.output.endswith(": no small cell\n")
