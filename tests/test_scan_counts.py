"""Exact counts and estimates of the scan on a hand-written mini-extract.

Everyone has a claim on the 1st of every month 2015-2018 and on 2018-12-31, so observation
runs 2015-01-01..2018-12-31 and, after the 365-day washout, the at-risk window is
2016-01-01..2018-12-31. One pack = 30 exposed days. Drug A = C10AA05, drug B = N05BA12.

patient sex born  events
P1      M   1950  A 2016-03-01, I21 2016-05-01            (drug first, 61 days: off treatment)
P2      F   1960  I21 2016-06-01, A 2016-09-01            (outcome first, before the 30-day gap)
P3      M   1950  A 2017-01-10, I21 2017-01-20            (drug first, during exposure)
P4      F   1970  A 2015-06-01 (prevalent), A 2017-03-01, J18 2017-03-15 (exposed)
P5      M   1980  B 2016-01-15, S72 2016-12-01 (321 days: off treatment), I21 2018-06-01
P6      F   1940  I21 2017-07-01
P7      M   1950  A 2018-01-01
P8      F   1985  I21 2015-03-01 (before washout: not new), I21 2016-04-01, A 2016-04-10
P9      F   1990  B on the 1st of every month 2015-03..2016-12 (one episode from 2015-03-01,
                  gaps of a day within the grace period, the last pack covering to 2016-12-30:
                  a prevalent user exposed before the at-risk window), J18 2016-08-01 (exposed,
                  long term)
"""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats as sps
from veille import db
from veille.dbt import run_dbt
from veille.scan.settings import ScanSettings
from veille.scan.signals import rank_signals

PATIENTS = [  # patient, sex, birth year
    (1, 1, 1950), (2, 2, 1960), (3, 1, 1950), (4, 2, 1970),
    (5, 1, 1980), (6, 2, 1940), (7, 1, 1950), (8, 2, 1985), (9, 2, 1990),
]
DISPENSINGS = [  # patient, date, cip13
    (1, "2016-03-01", "3400900000001"), (2, "2016-09-01", "3400900000001"),
    (3, "2017-01-10", "3400900000001"), (4, "2015-06-01", "3400900000001"),
    (4, "2017-03-01", "3400900000001"), (5, "2016-01-15", "3400900000002"),
    (7, "2018-01-01", "3400900000001"), (8, "2016-04-10", "3400900000001"),
] + [(9, f"{2015 + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}-01", "3400900000002") for m in range(3, 25)]
STAYS = [  # patient, admission date, DP
    (1, "2016-05-01", "I210"), (2, "2016-06-01", "I219"), (3, "2017-01-20", "I214"),
    (4, "2017-03-15", "J189"), (5, "2016-12-01", "S720"), (5, "2018-06-01", "I210"),
    (6, "2017-07-01", "I211"), (8, "2015-03-01", "I210"), (8, "2016-04-01", "I210"),
    (9, "2016-08-01", "J189"),
]


def insert_mini_extract() -> None:
    with db.engine().begin() as conn:
        conn.execute(sa.text(
            "insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read,"
            " rows_loaded, rows_rejected, started_at, finished_at, seconds) values ('mini', 'mini',"
            " 'mini', repeat('0', 64), 0, 0, 0, now(), now(), 0)"))
        conn.execute(sa.text(
            "insert into ref.drug (cip13, atc7, pack_type, units_per_pack) values"
            " ('3400900000001', 'C10AA05', 'NGC', 30), ('3400900000002', 'N05BA12', 'NGC', 30)"))
        for pid, sex, year in PATIENTS:
            conn.execute(sa.text(
                "insert into claims.patient (patient_id, ben_nir_psa, ben_rng_gem, sex, birth_year)"
                " overriding system value values (:p, :nir, 1, :s, :y)"),
                {"p": pid, "nir": f"NIR{pid:014d}", "s": sex, "y": year})
        conn.execute(sa.text(
            "insert into claims.service_line (patient_id, service_date, nature_code, flow_month,"
            " batch_id) select patient_id, d::date, 1111, date_trunc('month', d)::date, 1"
            " from claims.patient cross join (select generate_series('2015-01-01'::date,"
            " '2018-12-01', interval '1 month') union all select '2018-12-31'::date) as days (d)"))
        for pid, day, cip in DISPENSINGS:
            conn.execute(sa.text(
                "insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month,"
                " batch_id) values (:p, :d, :c, 1, date_trunc('month', :d ::date), 1)"),
                {"p": pid, "d": day, "c": cip})
        for i, (pid, day, dp) in enumerate(STAYS, start=1):
            conn.execute(sa.text(
                "insert into claims.hospital_stay (facility_id, rsa_num, pmsi_year, patient_id,"
                " admission_date, discharge_date, batch_id) values ('F1', :r, 2016, :p, :d, :d, 1)"),
                {"r": f"R{i}", "p": pid, "d": day})
            conn.execute(sa.text(
                "insert into claims.stay_diagnosis (stay_id, icd10, role) select stay_id, :dp, 'DP'"
                " from claims.hospital_stay where rsa_num = :r"), {"r": f"R{i}", "dp": dp})


@pytest.fixture()
def mini_scan(migrated_db):
    insert_mini_extract()
    run_dbt(["build", "--select", "+tag:scan", "--resource-type", "model", "--resource-type", "seed",
             "--quiet", "--vars", json.dumps(ScanSettings(min_events=1, latency_days=10).dbt_vars())])
    with db.engine().connect() as conn:
        pairs = pd.read_sql(sa.text("select * from scan.scan_pair_counts"), conn)
        leaves = pd.read_sql(sa.text("select * from scan.scan_tree_events"), conn)
    return pairs, leaves


def _row(frame: pd.DataFrame, drug: str, outcome: str, level: str = "atc7") -> pd.Series:
    hit = frame[(frame["drug_code"] == drug) & (frame["outcome_code"] == outcome)
                & (frame["drug_level"] == level)]
    assert len(hit) == 1, (drug, outcome, hit)
    return hit.iloc[0]


def test_mini_extract_counts_and_estimates(mini_scan):
    pairs, leaves = mini_scan
    keys = pairs[["drug_level", "drug_code", "outcome_level", "outcome_code"]]
    assert sorted(map(tuple, keys.to_numpy())) == sorted(
        [(level, drug, olevel, outcome)
         for level, drug in (("atc7", "C10AA05"), ("atc5", "C10AA"))
         for olevel, outcome in (("icd3", "I21"), ("block", "I20-I25"), ("icd3", "J18"),
                                 ("block", "J09-J18"))]
        + [(level, drug, olevel, outcome)
           for level, drug in (("atc7", "N05BA12"), ("atc5", "N05BA"))
           for olevel, outcome in (("icd3", "S72"), ("block", "S70-S79"), ("icd3", "J18"),
                                   ("block", "J09-J18"))]
    )
    a = _row(pairs, "C10AA05", "I21")
    # sequence symmetry: P1 and P3 drug first, P2 outcome first; P8's I21 is not new
    assert (a.ssa_drug_first, a.ssa_outcome_first) == (2, 1)
    # trend: u = 2016-03, 2016-04, 2016-09, 2017-01, 2018-01; r = 2016-05, 2016-06, 2017-01,
    # 2017-07, 2018-06 -> sum u F = 3 + 3 + 2 + 1.5 + 1, sum u G = 3 + 3 + 4 + 4 + 3
    assert a.nsr_numerator == pytest.approx(10.5)
    assert a.nsr_denominator == pytest.approx(17.0)
    # observed vs expected: P3's I21 falls in [2017-01-10, 2017-02-09); expected = exposed days
    # x stratum rates: P1 30 d x 1/1098 (2016, 65-69, M: P1 P3 P7 x 366 d), P2 30 d x 1/366
    # (2016, 55-59, F), P3 30 d x 1/1095 (2017, 65-69, M); P7, P8 exposed where no I21 occurs
    expected = 30 / 1098 + 30 / 366 + 30 / 1095
    assert a.oe_observed == 1
    assert a.oe_expected == pytest.approx(expected, rel=1e-12)
    # tree scan: P3's I21 is exposed; P1's (after its episode) and P2's (before initiation) not
    assert (a.tree_risk, a.tree_control) == (1, 2)
    # long-term part (latency 10 days in this test): days 10-29 of each 30-day episode; P3's
    # I21 is on day 10 of its episode, so it counts
    assert a.oe_latent_observed == 1
    assert a.oe_latent_expected == pytest.approx(20 / 1098 + 20 / 366 + 20 / 1095, rel=1e-12)
    block = _row(pairs, "C10AA", "I20-I25", level="atc5")
    assert (block.ssa_drug_first, block.ssa_outcome_first, block.oe_observed) == (2, 1, 1)
    assert block.oe_expected == pytest.approx(expected, rel=1e-12)
    j18 = _row(pairs, "C10AA05", "J18")
    # P4's first dispensing (2015) predates the washout: exposed, but not a new user
    assert (j18.ssa_drug_first, j18.ssa_outcome_first, j18.oe_observed) == (0, 0, 1)
    # only P4 is in (2017, 45-49, F): rate 1/365 per day, 30 exposed days
    assert j18.oe_expected == pytest.approx(30 / 365, rel=1e-12)
    # P4's J18 is on day 14 of its episode: long-term too
    assert (j18.oe_latent_observed, j18.oe_latent_expected) == (1, pytest.approx(20 / 365, rel=1e-12))
    # P9: exposed from 2016-01-01 (the at-risk start, not the episode's first day 2015-03-01 +
    # 10) to 2016-12-30, 365 days, alone in (2016, 25-29, F) where J18 has rate 1/366 per day
    b_j18 = _row(pairs, "N05BA12", "J18")
    assert (b_j18.ssa_drug_first, b_j18.ssa_outcome_first) == (0, 0)  # prevalent user
    assert (b_j18.oe_observed, b_j18.oe_latent_observed) == (1, 1)
    assert b_j18.oe_expected == pytest.approx(365 / 366, rel=1e-12)
    assert b_j18.oe_latent_expected == pytest.approx(365 / 366, rel=1e-12)
    s72 = _row(pairs, "N05BA12", "S72")
    assert (s72.ssa_drug_first, s72.ssa_outcome_first) == (1, 0)
    assert (s72.tree_risk, s72.tree_control) == (0, 1)

    ranked = rank_signals(pairs, leaves, ScanSettings(min_events=1, replicates=99))
    tree = _row(ranked, "C10AA05", "I21")
    assert tree.tree_expected == pytest.approx(3 * 30 / 1066, abs=1e-11)
    assert tree.tree_llr == pytest.approx(math.log(1 / tree.tree_expected) + 2 * math.log(2 / (3 - tree.tree_expected)))
    assert tree.tree_node_p == pytest.approx(
        sps.binom.sf(1, 3, 30 / 1066) + 0.5 * sps.binom.pmf(1, 3, 30 / 1066), rel=1e-9)
    r = _row(ranked, "C10AA05", "I21")
    assert r.ssa_csr == pytest.approx(2.0)
    assert r.ssa_nsr == pytest.approx(10.5 / 6.5)
    assert r.ssa_asr == pytest.approx(2 * 6.5 / 10.5)
    assert r.oe_ic == pytest.approx(math.log2(1.5 / (expected + 0.5)))
    assert r.oe_ratio == pytest.approx(1 / expected)
    assert sorted(ranked["rank"]) == list(range(1, len(pairs) + 1))


def test_mini_extract_tree_leaves(mini_scan):
    """New users only (P4 and P9 are prevalent), every new outcome of their at-risk window but
    the 30 days before initiation, exposed or not; each event weighs its patient's exposed
    share: 30 exposed days of 1,096 at-risk days less the gap (30 days; 14 for P5, who starts
    on day 15 of the window)."""
    _, leaves = mini_scan
    rows = sorted((r.drug_level, r.drug_code, r.icd3, r.block_code, r.chapter_code, r.risk_events,
                   r.control_events, round(r.expected_risk, 12)) for r in leaves.itertuples(index=False))
    a, b = round(30 / 1066, 12), round(30 / 1082, 12)
    assert rows == [
        ("atc5", "C10AA", "I21", "I20-I25", "I00-I99", 1, 2, round(3 * a, 12)),
        ("atc5", "N05BA", "I21", "I20-I25", "I00-I99", 0, 1, b),
        ("atc5", "N05BA", "S72", "S70-S79", "S00-T98", 0, 1, b),
        ("atc7", "C10AA05", "I21", "I20-I25", "I00-I99", 1, 2, round(3 * a, 12)),
        ("atc7", "N05BA12", "I21", "I20-I25", "I00-I99", 0, 1, b),
        ("atc7", "N05BA12", "S72", "S70-S79", "S00-T98", 0, 1, b),
    ]


def _age(born: int) -> float:
    return round((date(2016, 1, 1) - date(born, 7, 1)).days / 365.25, 2)


def test_mini_extract_case_series_rows(mini_scan):
    with db.engine().connect() as conn:
        cases = conn.execute(sa.text(
            "select outcome_code, patient_id, n_days, event_day, age_start from scan.scan_conv_cases "
            "order by outcome_code, patient_id")).all()
        starts = conn.execute(sa.text(
            "select patient_id, drug_code, start_day, end_day from scan.scan_conv_starts "
            "where drug_level = 'atc7' order by patient_id, start_day")).all()
        atc5 = conn.execute(sa.text(
            "select count(*) from scan.scan_conv_starts where drug_level = 'atc5'")).scalar()
    # the at-risk window 2016-01-01..2018-12-31 is 1096 days; day 0 = 2016-01-01. P8's I21 of
    # 2016 is not new (a first one in 2015), P7 has no outcome
    assert cases == [
        ("I21", 1, 1096, 121, _age(1950)), ("I21", 2, 1096, 152, _age(1960)),
        ("I21", 3, 1096, 385, _age(1950)), ("I21", 5, 1096, 882, _age(1980)),
        ("I21", 6, 1096, 547, _age(1940)),
        ("J18", 4, 1096, 439, _age(1970)), ("J18", 9, 1096, 213, _age(1990)),
        ("S72", 5, 1096, 335, _age(1980)),
    ]
    # the episodes of the cases' patients that reach the window: P4's 2015 episode ended before
    # it; P9's began on 2015-03-01 (day -306) and ran to 2016-12-30 (first unexposed day 365)
    assert starts == [
        (1, "C10AA05", 60, 90), (2, "C10AA05", 244, 274), (3, "C10AA05", 375, 405),
        (4, "C10AA05", 425, 455), (5, "N05BA12", 14, 44), (9, "N05BA12", -306, 365),
    ]
    assert atc5 == len(starts)
