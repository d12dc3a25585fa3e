"""The HTML report: self-contained, every section present, no count below 10 shown."""

import re

import pandas as pd
import pytest
from veille.study.analysis import Settings, analyse_outcome
from veille.study.config import ANALYSES, PATIENT_COVARIATES, find_study
from veille.study.report import study_html, write_report
from veille.study.run import StudyRun, summary_lines
from veille.study.simulate import simulate_survival


@pytest.fixture(scope="module")
def run() -> StudyRun:
    study = find_study("rosiglitazone_vs_pioglitazone")
    cid = study.cohort_id(study.comparisons[0])
    settings = Settings(tuple(a for a in ANALYSES if a != "cumulative_exposure"), PATIENT_COVARIATES)
    big = simulate_survival(3000, 2.0, seed=1)
    small = simulate_survival(40, 2.0, seed=2)
    outcomes = [
        analyse_outcome(big, settings, cohort_id=cid, outcome_id="heart_failure", exposure="rosiglitazone", comparator="pioglitazone"),
        analyse_outcome(small, settings, cohort_id=cid, outcome_id="myocardial_infarction", exposure="rosiglitazone", comparator="pioglitazone"),
    ]
    attrition = pd.DataFrame({"cohort_id": cid, "outcome_id": None, "step": [1, 2, 3],
                              "criterion": ["new users", "washout", "age"], "n_exposed": [5000, 800, 7],
                              "n_comparator": [4000, 900, 3]})
    return StudyRun(study, 42, outcomes, attrition)


def test_report_has_every_section_and_masks_small_counts(run, tmp_path):
    html = study_html(run)
    for part in ("Attrition", "Table 1", "Incidence", "Hazard ratios", "Kaplan-Meier", "Diagnostics", "plotly-graph-div"):
        assert part in html, part
    assert "exposed &lt;10 &middot; comparator &lt;10" in html  # attrition step with 7 and 3
    assert re.findall(r"<td>\d</td>", html) == []  # no single-digit count anywhere in a table
    assert "src=\"http" not in html and "<script src" not in html  # self-contained: plotly inlined
    path = write_report(run, tmp_path)
    assert path == tmp_path / "rosiglitazone_vs_pioglitazone" / "index.html"
    assert "rosiglitazone_vs_pioglitazone/index.html" in (tmp_path / "index.html").read_text()


def test_command_output_masks_counts_and_explains_missing_estimates(run):
    lines = summary_lines(run)
    assert lines[0] == "rosiglitazone_vs_pioglitazone (run 42): Rosiglitazone vs pioglitazone, heart failure and myocardial infarction"
    mi = [line for line in lines if "myocardial_infarction" in line]
    assert mi and all(("not estimable" in line) or ("<10" in line) for line in mi)
    for line in lines:
        for count in re.findall(r"events (\S+) / (\S+)", line):
            assert all(c == "<10" or int(c) >= 10 for c in count)
        # the reasons too: 'too few events (3 < 5)' leaves as 'too few events (fewer than 5)'
        assert not re.search(r"(?<![\w<.,])[1-9] events?\b|\([1-9] < ", line), line


def test_a_lone_small_category_cannot_be_found_by_subtraction():
    """The categories' exposed events add up to the overall row's: one masked category would
    come back as the total minus the others, so the smallest other is hidden too."""
    from veille.study.export import events_exposed_shown

    def row(analysis, term, events, outcome="o"):
        return {"cohort_id": "c", "outcome_id": outcome, "analysis": analysis, "term": term, "events_exposed": events}

    rows = [row("cox_adjusted", "exposed", 93), row("cumulative_dose", "<10,500 mg", 40),
            row("cumulative_dose", "10,500-27,999 mg", 50), row("cumulative_dose", ">=28,000 mg", 3),
            row("cumulative_dose", "trend", None), row("cumulative_exposure", "<12 months", 93),
            row("cumulative_dose", "<10,500 mg", 4, "p"), row("cumulative_dose", ">=28,000 mg", 5, "p")]
    assert events_exposed_shown(rows) == [93, "\u226510", 50, "<10", None, 93, "<10", "<10"]
