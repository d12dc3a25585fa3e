"""The synthetic extract conforms to the input contract and carries what truth.json says."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_SNDS
from veille.synth import generate
from veille.synth.scenario import load_scenario

SCHEMAS = SHARED_SNDS / "schemas"
NINE_KEYS = ["DCT_ORD_NUM", "FLX_DIS_DTD", "FLX_EMT_NUM", "FLX_EMT_ORD", "FLX_EMT_TYP",
             "FLX_TRT_DTD", "ORG_CLE_NUM", "PRS_ORD_NUM", "REM_TYP_AFF"]
DCIR = ["ER_PRS_F", "ER_PHA_F", "ER_CAM_F", "ER_BIO_F", "ER_ETE_F"]


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "extract"
    generate(out, patients=3000, years=4, start=date(2015, 1, 1), seed=1, scenario="strong")
    return out


@pytest.fixture(scope="module")
def truth(extract) -> dict:
    return json.loads((extract / "truth.json").read_text("utf-8"))


def _read(extract: Path, table: str, usecols=None) -> pd.DataFrame:
    files = sorted(extract.glob(f"{table}_*.csv")) or [extract / f"{table}.csv"]
    frames = [pd.read_csv(f, sep=";", dtype=str, keep_default_na=False, usecols=usecols)
              .assign(_file=f.name) for f in files]
    return pd.concat(frames, ignore_index=True)


def _keyed(df: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """Replace the nine join keys by one hash of them (``_k``), for fast joins."""
    k = pd.util.hash_pandas_object(df[NINE_KEYS], index=False).to_numpy()
    return df.drop(columns=[c for c in NINE_KEYS if c not in keep]).assign(_k=k)


def _pmsi(extract: Path, letter: str, usecols=None) -> pd.DataFrame:
    files = sorted(extract.glob(f"T_MCO??{letter}.csv"))
    return pd.concat([pd.read_csv(f, sep=";", dtype=str, keep_default_na=False, usecols=usecols)
                      for f in files], ignore_index=True)


@pytest.fixture(scope="module")
def prs(extract) -> pd.DataFrame:
    cols = [*NINE_KEYS, "BEN_NIR_PSA", "BEN_RNG_GEM", "EXE_SOI_DTD", "PRS_NAT_REF", "DPN_QLF",
            "PFS_EXE_NUM", "PFS_PRE_NUM", "PSE_SPE_COD", "PRS_ACT_QTE"]
    return _keyed(_read(extract, "ER_PRS_F", cols), keep=("FLX_DIS_DTD",))


@pytest.fixture(scope="module")
def details(extract) -> dict[str, pd.DataFrame]:
    extra = {"ER_PHA_F": ["PHA_PRS_C13", "PHA_ACT_QSN"], "ER_BIO_F": ["BIO_PRS_IDE"],
             "ER_CAM_F": ["CAM_PRS_IDE"], "ER_ETE_F": ["ETE_IND_TAA"]}
    return {t: _keyed(_read(extract, t, [*NINE_KEYS, *cols])) for t, cols in extra.items()}


@pytest.fixture(scope="module")
def pha(details) -> pd.DataFrame:
    return details["ER_PHA_F"]


def _table_of(name: str) -> str:
    stem = name.removesuffix(".csv")
    if stem.startswith("T_MCO"):
        return f"T_MCOaa{stem[-1]}"
    return re.sub(r"_\d{4}_\d{2}$", "", stem)


@pytest.mark.skipif(not SCHEMAS.is_dir(), reason="../shared/snds/schemas not present")
def test_every_file_has_the_official_columns_in_order(extract):
    seen = set()
    for f in sorted(extract.glob("*.csv")):
        table = _table_of(f.name)
        fields = [x["name"] for x in json.loads((SCHEMAS / f"{table}.json").read_text())["fields"]]
        with open(f, encoding="utf-8") as fh:
            assert fh.readline().rstrip("\n").split(";") == fields, f.name
        seen.add(table)
    assert seen == {p.stem for p in SCHEMAS.glob("*.json")}
    # one file per table and monthly flow, January 2015 to March 2019 (4 years + 3 months)
    for table in DCIR:
        assert len(list(extract.glob(f"{table}_20??_??.csv"))) == 51
    assert sorted(f.name for f in extract.glob("T_MCO??B.csv")) == [
        "T_MCO15B.csv", "T_MCO16B.csv", "T_MCO17B.csv", "T_MCO18B.csv"]


def test_each_detail_row_joins_exactly_one_service_line(details, prs):
    assert not prs.duplicated("_k").any()
    total = 0
    for table in DCIR[1:]:
        det = details[table]
        joined = det[["_k"]].merge(prs[["_k"]], on="_k", how="inner", validate="many_to_one")
        assert len(joined) == len(det) > 0, table
        total += len(det)
    assert total < len(prs)  # consultations have no detail row


def test_flows_are_months_after_the_care(prs):
    flow = pd.to_datetime(prs["FLX_DIS_DTD"])
    care = pd.to_datetime(prs["EXE_SOI_DTD"])
    assert (flow.dt.day == 1).all()
    assert (prs["FLX_DIS_DTD"].str[:7].str.replace("-", "_") == prs["_file"].str[9:16]).all()
    lag = (flow.dt.year - care.dt.year) * 12 + flow.dt.month - care.dt.month
    assert lag.min() == 0 and lag.max() <= 5
    assert 0.6 < (lag == 1).mean() < 0.8  # mostly the month after


def test_identifiers_and_referentials(extract, prs, pha):
    ben = _read(extract, "IR_BEN_R")
    assert len(ben) == 3000
    assert ben["BEN_NIR_PSA"].str.fullmatch(r"[A-Za-z0-9]{17}").all()
    assert not ben.duplicated(["BEN_NIR_PSA", "BEN_RNG_GEM"]).any()
    twins = ben[ben["BEN_RNG_GEM"] == "2"]
    assert set(twins["BEN_NIR_PSA"]) <= set(ben.loc[ben["BEN_RNG_GEM"] == "1", "BEN_NIR_PSA"])
    assert set(prs["BEN_NIR_PSA"]) <= set(ben["BEN_NIR_PSA"])
    assert prs["PFS_EXE_NUM"].replace("", "00000000").str.fullmatch(r"\d{8}").all()
    assert prs["PFS_PRE_NUM"].replace("", "00000000").str.fullmatch(r"\d{8}").all()
    ref = _read(extract, "IR_PHA_R")
    assert ref["PHA_CIP_C13"].str.fullmatch(r"34009\d{8}").all()
    assert ref["PHA_ATC_C07"].str.fullmatch(r"[A-Z]\d{2}[A-Z]{2}\d{2}").all()
    assert set(ref["PHA_CND_TOP"]) == {"GC", "NGC"}
    assert set(ref["PHA_UNT_NBR_DSES"].astype(int)) <= {4, 12, 14, 28, 30, 84, 90}
    assert set(pha["PHA_PRS_C13"]) <= set(ref["PHA_CIP_C13"])
    stays_c = _pmsi(extract, "C", ["ETA_NUM", "NIR_ANO_17", "EXE_SOI_DTD"])
    assert set(stays_c["NIR_ANO_17"]) <= set(ben["BEN_NIR_PSA"])
    assert stays_c["ETA_NUM"].str.len().eq(9).all()
    assert stays_c["EXE_SOI_DTD"].str.fullmatch(r"\d{8}").all()  # DDMMYYYY


def test_noise_is_present_and_counted(extract, prs, pha, truth):
    noise = truth["noise"]
    assert (prs["DPN_QLF"] == "71").sum() == noise["dcir_info_only_dpn_qlf_71"] > 0
    qty = pha["PHA_ACT_QSN"].astype(int)
    assert (qty < 0).sum() == noise["dcir_regularisation_negative_lines"] > 0
    # every negative line cancels a line of the same patient, day, pack and pharmacy
    lines = pha.merge(prs, on="_k")
    key = ["BEN_NIR_PSA", "EXE_SOI_DTD", "PHA_PRS_C13", "PFS_EXE_NUM"]
    neg = lines[lines["PHA_ACT_QSN"].astype(int) < 0][key].drop_duplicates()
    pos = lines[lines["PHA_ACT_QSN"].astype(int) > 0][key].drop_duplicates()
    assert len(neg.merge(pos, on=key)) == len(neg)
    c = _pmsi(extract, "C")
    ret = [k for k in ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET")]
    assert (c[ret] != "0").any(axis=1).sum() == noise["stays_bad_return_code"] > 0
    b = _pmsi(extract, "B", ["GRG_GHM"])
    assert (b["GRG_GHM"] == "90Z00Z").sum() == noise["stays_error_ghm"] > 0
    ben = _read(extract, "IR_BEN_R")
    assert (ben["BEN_DCD_DTE"] == "1600-01-01").sum() == 3000 - truth["counts"]["deaths"]
    assert (_read(extract, "IR_IMB_R")["IMB_ALD_DTF"] == "1600-01-01").any()


def _valid_stays(extract: Path) -> pd.DataFrame:
    b = _pmsi(extract, "B", ["ETA_NUM", "RSA_NUM", "DGN_PAL", "GRG_GHM", "SOR_MOD"])
    c = _pmsi(extract, "C")
    ret = ["NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET"]
    c = c[(c[ret] == "0").all(axis=1)]
    s = b.merge(c[["ETA_NUM", "RSA_NUM", "NIR_ANO_17", "EXE_SOI_DTD", "EXE_SOI_DTF"]],
                on=["ETA_NUM", "RSA_NUM"], validate="one_to_one")
    return s[~s["GRG_GHM"].str.startswith("90")]


def test_outcome_stays_match_the_truth_counts(extract, truth):
    s = _valid_stays(extract)
    d = _pmsi(extract, "D", ["ETA_NUM", "RSA_NUM", "ASS_DGN"])
    for outcome, n in truth["counts"]["events"].items():
        got = s["DGN_PAL"].str.startswith(outcome).sum()
        if outcome == "I50":  # some coded as hypertensive heart disease with a DAS I50
            hyp = s[s["DGN_PAL"] == "I110"].merge(d, on=["ETA_NUM", "RSA_NUM"])
            with_i50 = hyp.groupby(["ETA_NUM", "RSA_NUM"])["ASS_DGN"].agg(
                lambda x: x.str.startswith("I50").any())
            assert with_i50.all() and len(with_i50) == (s["DGN_PAL"] == "I110").sum()
            got += len(with_i50)
        assert got == n >= 30, outcome
    acts = _pmsi(extract, "A", ["CDC_ACT"])
    assert {"JDFA003", "JDFA008", "JDFE002", "NEKA020", "DEQP003"} <= set(acts["CDC_ACT"])


def test_in_hospital_deaths_match_death_dates(extract):
    s = _valid_stays(extract)
    ben = _read(extract, "IR_BEN_R").query("BEN_RNG_GEM == '1'")
    dead = s[s["SOR_MOD"] == "9"].merge(ben, left_on="NIR_ANO_17", right_on="BEN_NIR_PSA")
    assert len(dead) > 0
    dtf = pd.to_datetime(dead["EXE_SOI_DTF"], format="%d%m%Y")
    assert (dtf == pd.to_datetime(dead["BEN_DCD_DTE"])).all()
    # no care after death, except what phantom pharmacies bill
    b = _pmsi(extract, "B", ["DGN_PAL", "DGN_REL"])
    assert b.loc[b["DGN_PAL"] == "Z515", "DGN_REL"].str.len().eq(4).all()


def test_no_care_after_death_but_phantom_dispensings(extract, prs, truth):
    ben = _read(extract, "IR_BEN_R").query("BEN_DCD_DTE != '1600-01-01'")
    after = prs.merge(ben[["BEN_NIR_PSA", "BEN_DCD_DTE"]], on="BEN_NIR_PSA")
    after = after[after["EXE_SOI_DTD"] > after["BEN_DCD_DTE"]]
    phantom = {k for k, v in truth["fraud"].items() if v["kind"] == "phantom_pharmacy"}
    assert len(after) > 0 and set(after["PFS_EXE_NUM"]) <= phantom


def test_fraud_actors_are_visible_in_the_claims(prs, pha, truth, extract):
    kinds = {v["kind"] for v in truth["fraud"].values()}
    assert kinds == {"doctor_shopping", "phantom_pharmacy", "high_prescriber", "impossible_volume"}
    lines = pha.merge(prs, on="_k")
    lines = lines[(lines["DPN_QLF"] != "71") & (lines["PHA_ACT_QSN"].astype(int) > 0)]
    ref = _read(extract, "IR_PHA_R")
    psycho = set(ref.loc[ref["PHA_ATC_C07"].str.match("N05B|N05C|N02A"), "PHA_CIP_C13"])
    ben = _read(extract, "IR_BEN_R")
    for actor, v in truth["fraud"].items():
        if v["kind"] == "doctor_shopping":
            mine = lines[(lines["BEN_NIR_PSA"] == actor) & lines["PHA_PRS_C13"].isin(psycho)]
            assert mine["PFS_PRE_NUM"].nunique() >= 2 and mine["PFS_EXE_NUM"].nunique() >= 3
        elif v["kind"] == "phantom_pharmacy":
            mine = lines[lines["PFS_EXE_NUM"] == actor].merge(ben, on="BEN_NIR_PSA")
            assert (mine["BEN_DCD_DTE"] != "1600-01-01").any()
            assert len(mine) >= 20
        elif v["kind"] == "impossible_volume":
            gp = prs[(prs["PFS_EXE_NUM"] == actor) & (prs["PRS_NAT_REF"] == "1111")]
            assert gp.groupby("EXE_SOI_DTD").size().max() >= 60
    # an honest GP never bills 60 consultations in a day
    honest = prs[(prs["PRS_NAT_REF"] == "1111") & ~prs["PFS_EXE_NUM"].isin(list(truth["fraud"]))]
    assert honest.groupby(["PFS_EXE_NUM", "EXE_SOI_DTD"]).size().max() < 20


def test_truth_json_lists_effects_pathways_and_scenario(truth):
    assert truth["seed"] == 1 and truth["scenario"]["name"] == "strong"
    for e in truth["effects"]:
        assert set(e) >= {"exposure_atc", "outcome_icd10", "hazard_ratio", "window",
                          "latency_days", "population"}
    assert set(truth["pathways"].values()) == {"guideline_concordant", "under_monitored",
                                               "escalating", "non_adherent"}
    default = load_scenario("default")["effects"]
    assert sum(float(e["hazard_ratio"]) == 1 for e in default) >= 20
    main = {(e["exposure_atc"], e["outcome_icd10"]): (e["hazard_ratio"], e["population"],
                                                       e["latency_days"]) for e in default}
    assert main[("A10BG03", "C67")] == (1.22, "all", 365)
    assert main[("A10BG02", "I50")][0] == 1.25 and main[("A10BG02", "I21")][0] == 1.06
    assert main[("N05BA", "S72")] == (1.5, "age>=65", 0)
    assert main[("N05CF", "S72")][0] == 1.9 and main[("N06AB", "S72")][0] == 1.9
    assert main[("N05A", "S72")][0] == 1.5


def test_pathway_archetypes_show_in_follow_up(extract, prs, details, truth):
    bio = details["ER_BIO_F"].merge(prs, on="_k")
    hba1c = bio[(bio["BIO_PRS_IDE"] == "1577") & (bio["DPN_QLF"] != "71")]
    per = hba1c.groupby("BEN_NIR_PSA").size()
    arch = pd.Series(truth["pathways"])
    rate = {a: per.reindex(arch[arch == a].index, fill_value=0).mean() / 4 for a in set(arch)}
    # scenario: 3.0 a year when concordant, 0.6 when under-monitored (4 years, deaths lower it)
    assert 2.4 < rate["guideline_concordant"] < 3.1
    assert 0.4 < rate["under_monitored"] < 0.7
    assert rate["escalating"] > rate["non_adherent"] > rate["under_monitored"]
    # escalating diabetics add insulin after metformin
    ref = _read(extract, "IR_PHA_R")
    insulin = set(ref.loc[ref["PHA_ATC_C07"] == "A10AE04", "PHA_CIP_C13"])
    pha = details["ER_PHA_F"].merge(prs, on="_k")
    users = set(pha.loc[pha["PHA_PRS_C13"].isin(insulin), "BEN_NIR_PSA"])
    esc = set(arch[arch == "escalating"].index)
    assert len(esc & users) / len(esc) > 0.5


def test_population_rates_follow_the_scenario(extract, truth):
    ben = _read(extract, "IR_BEN_R")
    male = (ben["BEN_SEX_COD"] == "1").mean()
    se = np.sqrt(0.485 * 0.515 / len(ben))
    assert abs(male - 0.485) < 4 * se
    shares = truth["scenario"]["pathways"]["shares"]
    arch = pd.Series(truth["pathways"])
    for a, p in shares.items():
        assert abs((arch == a).mean() - p) < 4 * np.sqrt(p * (1 - p) / len(arch)), a
    rows = truth["counts"]["rows"]["ER_PRS_F"]
    base = rows - truth["noise"]["dcir_info_only_dpn_qlf_71"] - 2 * truth["noise"][
        "dcir_regularisation_negative_lines"]
    share = truth["noise"]["dcir_info_only_dpn_qlf_71"] / base
    assert abs(share - 0.01) < 4 * np.sqrt(0.01 * 0.99 / base)
