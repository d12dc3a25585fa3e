"""The fraud sweep on the shared synthetic warehouse (4,000 patients, `strong` scenario, seed 11):
the injected actors are found, the CLI evaluation and the report are masked."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def swept(synthetic_warehouse):
    """Sweep every month of the warehouse once for this module."""
    import os

    from veille import db
    from veille.fraud.sweep import sweep_all

    os.environ["VEILLE_DATABASE"] = synthetic_warehouse["database"]
    db.reset_cache()
    counts = sweep_all()
    yield counts
    os.environ.pop("VEILLE_DATABASE", None)
    db.reset_cache()


def test_injected_actors_are_found(swept, warehouse):
    from veille.fraud.evaluate import evaluate_truth_file

    result = evaluate_truth_file(warehouse["extract"] / "truth.json")
    kinds = {v["kind"] for v in warehouse["truth"]["fraud"].values()}
    assert set(result["kinds"]) == kinds == {"doctor_shopping", "high_prescriber", "impossible_volume",
                                             "phantom_pharmacy"}
    # targets of the issue: recall >= 0.9 within the top 2 x actors
    assert result["recall_at_k"] >= 0.9
    for kind in ("doctor_shopping", "impossible_volume", "phantom_pharmacy"):
        assert result["kinds"][kind]["recall_at_k"] == 1.0
        assert result["kinds"][kind]["auc"] >= 0.95
    # measured on this extract (2026-12-06, supply ratio of shoppers, pooled controlled drugs):
    # 14 alerted entities, all actors (precision at k 1.0; 0.82 before); the one high prescriber
    # of this 4,000-patient extract is still missed (too few patients per GP to see it)
    assert result["precision_at_n"] >= 0.9
    assert result["precision_at_k"] >= 0.9


def test_doctor_shopping_concentrates_on_the_shopped_classes(swept, warehouse):
    import sqlalchemy as sa
    from veille import db

    with db.engine().connect() as conn:
        top = [r[0] for r in conn.execute(sa.text(
            "select drug_code from fraud.fraud_drug_shopping order by drug_rank limit 3"))]
    # the generator injects shopping on benzodiazepines, Z-drugs and opioids only
    assert all(code[:4] in ("N05B", "N05C", "N02A") for code in top)


def test_cli_evaluate_json_is_masked(swept, warehouse, exports):
    from veille.cli import app

    out = CliRunner().invoke(app, ["fraud", "evaluate", "--truth", str(warehouse["extract"]), "--format", "json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    (exports / "fraud").mkdir(exist_ok=True)  # audited by tests/test_audit.py
    (exports / "fraud" / "evaluate.json").write_text(out.output)
    for kind in result["kinds"].values():
        assert kind["actors"] == "<10" or kind["actors"] >= 10


def test_report_is_self_contained_and_masked(swept, warehouse, exports):
    from veille.fraud.report import write_report

    path = write_report(exports / "fraud" / "fraud_report.html")
    html = path.read_text()
    # self-contained: plotly's library inlined, nothing fetched; the profile and the network drawn
    assert "src=\"http" not in html and html.count('class="plotly-graph-div"') == 2
    text = re.sub(r"<script.*?</script>", "", html, flags=re.DOTALL)  # the library, the figure data
    small = re.findall(r"\b[1-9] (?:patients|prescribers|pharmacies|lines|dispensings)\b", text)
    assert small == []
