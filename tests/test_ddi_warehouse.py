"""The interaction screen end to end on a small `interactions` extract with raised outcome
rates: loaded, built by dbt, screened (`veille scan interactions`), evaluated, reported."""

from __future__ import annotations

import json
import os
from datetime import date

import numpy as np
import pytest
import yaml
from conftest import scratch_database
from scipy import stats
from typer.testing import CliRunner
from veille import db
from veille.cli import app
from veille.scan.ddi import (
    InteractionSettings,
    evaluate_interactions,
    read_signals,
    run_interactions,
)
from veille.synth.scenario import _read_bundled, load_scenario

PATIENTS = 20000
# rates and one co-prescription raised so that this small extract holds enough events in joint
# exposure (latent counts in truth.json); the interactions themselves are the bundled ones (E87
# at 20 left the no-main-effect interaction 29th: a confounded E87 pair, diabetics on
# metformin, widens that outcome's empirical null)
RATES = {"E87": 30.0, "M62": 30.0, "S72": 10.0, "I21": 6.0, "I50": 6.0, "C67": 3.0, "J18": 8.0}
MIN_COMBINED_AUC = 0.9


@pytest.fixture(scope="module")
def ddi_warehouse(pg_server, tmp_path_factory):
    from veille.dbt import run_dbt
    from veille.load import load_extract
    from veille.synth import generate

    tmp = tmp_path_factory.mktemp("ddi")
    scenario = _read_bundled("interactions")
    outcomes = load_scenario("interactions")["outcomes"]
    scenario["outcomes"] = {o: dict(outcomes[o], rate=r) for o, r in RATES.items()}
    # and the on-top interaction stronger, with a z-drug added to every benzodiazepine episode
    scenario["interactions"][1].update(hazard_ratio=6.0, co_start={"share": 1.0, "delay_days": [0, 30],
                                                                   "duration_days": 240})
    (tmp / "sc.yml").write_text(yaml.safe_dump(scenario), "utf-8")
    out = tmp / "extract"
    generate(out, PATIENTS, 4, date(2015, 1, 1), 5, scenario=tmp / "sc.yml")
    with scratch_database("ddi_warehouse", migrated=True) as name:
        load_extract(out)
        run_dbt(["build", "--select", "+tag:scan_ddi", "--quiet", "--vars",
                 json.dumps(InteractionSettings().dbt_vars())], check=True)
        yield {"database": name, "extract": out, "truth": json.loads((out / "truth.json").read_text("utf-8"))}


@pytest.fixture()
def selected(ddi_warehouse):
    os.environ["VEILLE_DATABASE"] = ddi_warehouse["database"]
    db.reset_cache()
    yield ddi_warehouse
    os.environ.pop("VEILLE_DATABASE", None)
    db.reset_cache()


def test_the_screen_ranks_injected_interactions_above_the_null_pairs(selected, exports):
    run_id, seconds = run_interactions(InteractionSettings(), build=False)
    assert set(seconds) == {"read marts", "statistics", "store"}
    signals = read_signals(run_id)
    # the combination, recomputed: Bonferroni over the calibrated methods, BH over all rows
    p = signals[["omega_cal_p", "sccs_p"]].to_numpy(float)
    n = (~np.isnan(p)).sum(axis=1)
    assert np.allclose(signals["combined_p"], np.minimum(1, np.maximum(n, 1) * np.nanmin(np.where(np.isnan(p), 1, p), axis=1)))
    assert np.allclose(signals["q_value"], stats.false_discovery_control(signals["combined_p"]))
    assert (signals["drug_a"] < signals["drug_b"]).all()
    result = evaluate_interactions(selected["truth"], signals)
    assert (result["positives"], result["negatives"], result["traps"]) == (3, 13, 7)
    assert result["auc"]["combined"] >= MIN_COMBINED_AUC, result
    assert result["traps_in_top5"] == 0, result
    # all three in the top 10 of about 1,100 (1st, 4th and 6th on this extract)
    ranks = {p["shape"]: p["rank"] for p in result["pairs"] if p["shape"]}
    assert max(ranks.values()) <= 10, (ranks, len(signals))

    runner = CliRunner()
    (exports / "scan").mkdir(exist_ok=True)  # audited by tests/test_audit.py
    out = runner.invoke(app, ["scan", "interactions", "--no-build", "--report",
                              str(exports / "scan" / "interactions.html"), "--top", "5"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"interaction run {run_id + 1}: {len(signals)} drug pairs x outcomes")
    html = (exports / "scan" / "interactions.html").read_text("utf-8")
    assert "Joint-exposure timeline" in html
    out = runner.invoke(app, ["scan", "interactions", "--no-build", "--min-patients", "0"])
    assert str(out.exception) == "--min-patients: must be >= 1, got 0"
