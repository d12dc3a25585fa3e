"""The `stress` profile: the same truth in data of another shape (heavy tails, other code
frequencies, another calendar, long stays), and the warehouse loads and builds on it with every
dbt test passing; the default profile writes the same bytes as before profiles existed.

Thresholds follow from the profile's design (``profiles/stress.yml``), with margin:
- the frailest 2 % get each drug twice a week: fills every 4 days x the refill factor (mean
  0.25 x 0.725 + 0.30 x 1.475 + 0.45 x 1 = 1.07) x packs (mean 1.15), i.e. about 440 fills per
  drug over 6 years, so anyone of them with three drugs all along passes 1,000; the default's
  fills come every pack (28 days or more);
- background stays at log-rate 1.3 per SD of frailty (0.6 by default), 5 % of them lasting
  14 days + an exponential of mean 40 (so 5 % x exp(-16/40) = 3.4 % last 30 days or more);
- seasons: density 1 + 0.35 cos(...) peaking mid-January, so December-February hold about
  (1 + 0.35 x 0.9) / (1 - 0.35 x 0.9) = 1.9 times the visits of June-August (1 by default);
  Sundays closed (their care on Mondays); R296 weighs 30 of 100 among background diagnoses
  (1 of 12 by default).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from veille.errors import VeilleError
from veille.synth import generate
from veille.synth.scenario import load_scenario

PATIENTS, YEARS, SEED = 2000, 6, 4


def _read(out: Path, pattern: str, cols: list[str]) -> pd.DataFrame:
    return pd.concat(pd.read_csv(f, sep=";", usecols=cols, dtype=str) for f in sorted(out.glob(pattern)))


def _shape(out: Path) -> dict[str, float]:
    prs = _read(out, "ER_PRS_F*.csv", ["BEN_NIR_PSA", "PRS_NAT_REF", "EXE_SOI_DTD"])
    per = prs[prs.PRS_NAT_REF.str.startswith("331")].groupby("BEN_NIR_PSA").size()
    per = per.sort_values(ascending=False)
    gp = pd.to_datetime(prs[prs.PRS_NAT_REF == "1111"].EXE_SOI_DTD)
    month = gp.dt.month
    stays = _read(out, "T_MCO*C.csv", ["NIR_ANO_17", "EXE_SOI_DTD", "EXE_SOI_DTF"])
    los = (pd.to_datetime(stays.EXE_SOI_DTF, format="%d%m%Y")
           - pd.to_datetime(stays.EXE_SOI_DTD, format="%d%m%Y")).dt.days
    per_patient = stays.groupby("NIR_ANO_17").size()
    dp = _read(out, "T_MCO*B.csv", ["DGN_PAL"]).DGN_PAL
    latent = np.load(out / "latent" / "chunk_00000.npz")
    conditions = sum(latent[k].astype(int) for k in latent.files if k.startswith("patient_cond_"))
    truth = json.loads((out / "truth.json").read_text())
    return {
        "lines": truth["counts"]["claim_lines"],
        "top2_share": per.iloc[: PATIENTS // 50].sum() / per.sum(),
        "max_dispensings": per.max(),
        "over_1000": int((per >= 1000).sum()),
        "stays_p99": per_patient.quantile(0.99),
        "ten_stays": int((per_patient >= 10).sum()),
        "mean_los": los.mean(),
        "month_los": int((los >= 30).sum()) / len(los),
        "max_los": los.max(),
        "sunday": (gp.dt.weekday == 6).mean(),
        "monday": (gp.dt.weekday == 0).mean(),
        "winter_over_summer": month.isin([12, 1, 2]).sum() / month.isin([6, 7, 8]).sum(),
        "top_dp": dp.value_counts(normalize=True).iloc[0],
        "seven_conditions": int((conditions >= 7).sum()),
    }


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    out = {}
    for profile in ("default", "stress"):
        d = tmp_path_factory.mktemp(profile)
        generate(d, PATIENTS, YEARS, date(2015, 1, 1), SEED, profile=profile)
        out[profile] = (_shape(d), json.loads((d / "truth.json").read_text()))
    return out


def test_stress_has_heavy_tails(shapes):
    default, stress = shapes["default"][0], shapes["stress"][0]
    assert 1.5 * default["lines"] <= stress["lines"] <= 4 * default["lines"]
    # the top 2 % of patients by dispensings: about a quarter of them by default, half in stress
    assert default["top2_share"] < 0.32 and stress["top2_share"] > 0.45
    assert default["max_dispensings"] < 500 and stress["max_dispensings"] >= 2000
    assert default["over_1000"] == 0 and stress["over_1000"] >= 10
    assert default["seven_conditions"] <= 2 and stress["seven_conditions"] >= 10


def test_stress_has_repeated_and_long_stays(shapes):
    default, stress = shapes["default"][0], shapes["stress"][0]
    assert default["ten_stays"] == 0 and stress["ten_stays"] >= 10
    assert stress["stays_p99"] >= 2.5 * default["stays_p99"]
    assert stress["mean_los"] > 2 * default["mean_los"]
    assert default["max_los"] < 30 and stress["max_los"] >= 90
    assert 0.015 <= stress["month_los"] <= 0.06


def test_stress_has_another_calendar_and_code_mix(shapes):
    default, stress = shapes["default"][0], shapes["stress"][0]
    assert 0.12 < default["sunday"] < 0.165 and stress["sunday"] < 0.01
    assert stress["monday"] > 0.25
    assert 0.85 < default["winter_over_summer"] < 1.15 and stress["winter_over_summer"] > 1.4
    assert default["top_dp"] < 0.12 and stress["top_dp"] > 0.2


def test_the_profile_keeps_the_truth(shapes):
    default, stress = shapes["default"][1], shapes["stress"][1]
    assert stress["effects"] == default["effects"]
    assert stress["scenario"]["outcomes"] == default["scenario"]["outcomes"]
    assert stress["scenario"]["profile"] == "stress" and "profile" not in default["scenario"]


def test_unknown_profile_is_refused():
    with pytest.raises(VeilleError, match=r"^unknown profile 'nope': not one of default, stress$"):
        load_scenario("default", "nope")


# files that the pack strengths of issue 26 changed: the referential, the drug lines' pack codes
# and truth.json's count of referential lines; nothing else
PACK_FILES = ("IR_PHA_R", "ER_PHA_F", "truth.json")


def _digest(out: Path, skip: tuple[str, ...] = ()) -> str:
    """SHA-256 of the extract's files (not latent/: numpy's own container format), but those
    whose name starts with one of ``skip``."""
    h = hashlib.sha256()
    for f in sorted(out.glob("*")):
        if f.is_file() and not f.name.startswith(skip):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_the_default_profile_writes_the_same_bytes_as_before_profiles(tmp_path):
    # digest of what the generator wrote after the pack strengths and dosages (issue 26); if a
    # deliberate change of the default shape (or of numpy's random streams) alters it, update it.
    # Without the pack files, the digest of commit 4a5fd2b, before profiles existed: the
    # strengths moved pack codes only, no random draw
    generate(tmp_path, 400, 2, date(2016, 3, 1), 11, chunk_size=150)
    assert _digest(tmp_path) == "db51ecfa17bb331f5a4b9101f44366d965561feca4450db96e4ed9e09adace7a"
    assert _digest(tmp_path, PACK_FILES) == "3dbfd3ecc8396bccbec90a680440f279ae8bc1fb1600556c3a47b6b5b9141f9e"


def test_a_ten_year_stress_history_is_complete_and_reproducible(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        generate(out, 400, 10, date(2012, 1, 1), 8, profile="stress", chunk_size=250)
    assert _digest(a) == _digest(b)
    assert (a / "ER_PRS_F_2022_03.csv").is_file() and (a / "T_MCO21C.csv").is_file()
    prs = _read(a, "ER_PRS_F*.csv", ["BEN_NIR_PSA", "PRS_NAT_REF", "EXE_SOI_DTD"])
    disp = prs[prs.PRS_NAT_REF.str.startswith("331")]
    years = pd.to_datetime(disp.EXE_SOI_DTD).dt.year
    assert years.min() == 2012 and years.max() == 2021
    # twice-weekly deliveries go on in the last year (up to 1,000 fills an episode)
    last = disp[years == 2021].groupby("BEN_NIR_PSA").size()
    assert last.max() >= 150


def test_the_warehouse_builds_on_a_stress_extract(pg_server, tmp_path):
    from conftest import scratch_database
    from veille.dbt import run_dbt
    from veille.load import load_extract

    generate(tmp_path, 1000, 5, date(2015, 1, 1), SEED, profile="stress")
    with scratch_database("stress_warehouse", migrated=True):
        summary = load_extract(tmp_path)
        totals = summary.totals()
        assert totals["read"] == totals["loaded"] + totals["dropped"] + totals["rejected"]
        assert totals["loaded"] > 80_000
        run_dbt(["build", "--quiet"], check=True)  # every model and every dbt test
