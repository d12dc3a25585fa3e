"""The `stress` profile: the same truth in data of another shape (heavy tails, other code
frequencies, longer stays), and the warehouse loads and builds on it with every dbt test passing.
The thresholds follow from the profile's design (weekly deliveries for the frailest 3 % of
patients, stays driven by frailty at log-rate 1.3, background stays of 12 days on average)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from veille.errors import VeilleError
from veille.synth import generate
from veille.synth.scenario import load_scenario

PATIENTS, YEARS, SEED = 2000, 6, 4


def _shape(out: Path) -> dict[str, float]:
    prs = pd.concat(pd.read_csv(f, sep=";", usecols=["BEN_NIR_PSA", "PRS_NAT_REF"], dtype=str)
                    for f in sorted(out.glob("ER_PRS_F*.csv")))
    per = prs[prs.PRS_NAT_REF.str.startswith("331")].groupby("BEN_NIR_PSA").size()
    stays = pd.concat(pd.read_csv(f, sep=";", usecols=["NIR_ANO_17", "EXE_SOI_DTD", "EXE_SOI_DTF"], dtype=str)
                      for f in sorted(out.glob("T_MCO*C.csv")))
    los = (pd.to_datetime(stays.EXE_SOI_DTF, format="%d%m%Y") - pd.to_datetime(stays.EXE_SOI_DTD, format="%d%m%Y")).dt.days
    lines = json.loads((out / "truth.json").read_text())["counts"]["claim_lines"]
    return {"lines": lines, "max_dispensings": per.max(), "over_1000": int((per >= 1000).sum()),
            "ten_stays": int((stays.groupby("NIR_ANO_17").size() >= 10).sum()), "mean_los": los.mean()}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    out = {}
    for profile in ("default", "stress"):
        d = tmp_path_factory.mktemp(profile)
        generate(d, PATIENTS, YEARS, date(2015, 1, 1), SEED, profile=profile)
        out[profile] = (_shape(d), json.loads((d / "truth.json").read_text()))
    return out


def test_stress_has_heavy_tails_and_longer_stays(shapes):
    default, stress = shapes["default"][0], shapes["stress"][0]
    assert stress["lines"] >= 2 * default["lines"]
    assert default["max_dispensings"] < 500 and stress["max_dispensings"] >= 1000
    assert stress["over_1000"] >= 1
    assert default["ten_stays"] == 0 and stress["ten_stays"] >= 5
    assert stress["mean_los"] > 2 * default["mean_los"]


def test_the_profile_keeps_the_truth(shapes):
    default, stress = shapes["default"][1], shapes["stress"][1]
    assert stress["effects"] == default["effects"]
    assert stress["scenario"]["outcomes"] == default["scenario"]["outcomes"]
    assert stress["scenario"]["profile"] == "stress" and "profile" not in default["scenario"]


def test_unknown_profile_is_refused():
    with pytest.raises(VeilleError, match=r"^unknown profile 'nope': not one of default, stress$"):
        load_scenario("default", "nope")


def test_the_warehouse_builds_on_a_stress_extract(pg_server, tmp_path):
    from conftest import scratch_database
    from veille.dbt import run_dbt
    from veille.load import load_extract

    generate(tmp_path, 1500, YEARS, date(2015, 1, 1), SEED, profile="stress")
    with scratch_database("stress_warehouse", migrated=True):
        summary = load_extract(tmp_path)
        totals = summary.totals()
        assert totals["read"] == totals["loaded"] + totals["dropped"] + totals["rejected"]
        assert totals["loaded"] > 100_000
        run_dbt(["build", "--quiet"], check=True)  # every model and every dbt test
