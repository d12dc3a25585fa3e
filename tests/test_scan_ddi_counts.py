"""The interaction screen's counts (scan_ddi_counts, scan_ddi_case_days; issue 25), exact, on the
scan's mini-extract (tests/test_scan_counts.py: P1-P9), the co-users of
tests/test_scan_coexposure.py (P10-P13, men born 1950) and seven women born 1945 (P14-P20).
A = C10AA05, B = N05BA12, one 30-day pack each; the at-risk window is 2016-01-01..2018-12-31
(1096 days) for everyone. Stays added here (E87 is new to the extract; I21 also has the
mini-extract's onsets of P1, P2, P3, P5, P6):

patient  A (exposed days)             B (exposed days)         joint (days)            onsets
P13      [16-10-01, 16-11-30) (2 packs) [16-11-10, 16-12-10)    [11-10, 11-30) 20       I21 16-11-20: joint
P14      [16-03-01, 16-04-30) (2 packs) [16-04-10, 16-05-10)    [04-10, 04-30) 20       E87 16-04-20: joint
P15      [17-02-01, 17-03-03)           [17-03-03, 17-04-02)    none: touching          E87 17-03-03: B only
P16      [16-06-01, 16-07-01)           [16-06-21, 16-07-21)    [06-21, 07-01) 10       E87 16-06-10: A only;
                                                                                         I21 16-06-25: joint
P17      [17-05-01, 17-05-31)           [17-05-11, 17-06-10)    [05-11, 05-31) 20       E87 17-09-01: unexposed
P18      -                              [18-01-10, 18-02-09)    -                       E87 18-01-20: B (B only)
P19      [18-03-01, 18-03-31)           [18-03-01, 18-03-31)    [03-01, 03-31) 30       E87 18-03-01: joint (its
                                                                                         first day); J18 18-03-20: joint
P20      -                              -                       -                       E87 16-08-01
P10 has 20 joint days in February 2016 and no outcome; P11 (touching) and P12 (a gap) none.

scan_min_events = 2: J18 has one onset in joint exposure, so no J18 row.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from test_scan_coexposure import _insert_coexposed, insert_patient
from test_scan_counts import insert_mini_extract
from veille import db
from veille.dbt import run_dbt
from veille.scan.settings import ScanSettings

WOMEN_1945 = {  # patient: fills (date, drug), stays (admission date, DP)
    14: ((("2016-03-01", "A"), ("2016-03-31", "A"), ("2016-04-10", "B")), (("2016-04-20", "E875"),)),
    15: ((("2017-02-01", "A"), ("2017-03-03", "B")), (("2017-03-03", "E875"),)),
    16: ((("2016-06-01", "A"), ("2016-06-21", "B")), (("2016-06-10", "E875"), ("2016-06-25", "I210"))),
    17: ((("2017-05-01", "A"), ("2017-05-11", "B")), (("2017-09-01", "E875"),)),
    18: ((("2018-01-10", "B"),), (("2018-01-20", "E875"),)),
    19: ((("2018-03-01", "A"), ("2018-03-01", "B")), (("2018-03-01", "E875"), ("2018-03-20", "J189"))),
    20: ((), (("2016-08-01", "E875"),)),
}
MORE_STAYS = {13: (("2016-11-20", "I214"),)}


def _stay(conn, pid: int, day: str, dp: str) -> None:
    rsa = f"DDI{pid}-{day}"
    conn.execute(sa.text(
        "insert into claims.hospital_stay (facility_id, rsa_num, pmsi_year, patient_id, admission_date,"
        " discharge_date, batch_id) values ('F1', :r, :y, :p, :d, :d, 1)"),
        {"r": rsa, "y": int(day[:4]), "p": pid, "d": day})
    conn.execute(sa.text(
        "insert into claims.stay_diagnosis (stay_id, icd10, role) select stay_id, :dp, 'DP'"
        " from claims.hospital_stay where rsa_num = :r"), {"r": rsa, "dp": dp})


def _insert_women() -> None:
    with db.engine().begin() as conn:
        for pid, (fills, stays) in WOMEN_1945.items():
            insert_patient(conn, pid, 2, 1945, fills)
            for day, dp in stays:
                _stay(conn, pid, day, dp)
        for pid, stays in MORE_STAYS.items():
            for day, dp in stays:
                _stay(conn, pid, day, dp)


@pytest.fixture()
def ddi_marts(migrated_db):
    insert_mini_extract()
    _insert_coexposed()
    _insert_women()
    variables = ScanSettings(min_events=2).dbt_vars() | {"scan_ddi_min_patients": 2}
    run_dbt(["build", "--select", "+scan_ddi_case_days", "+scan_ddi_counts", "--resource-type", "model",
             "--resource-type", "seed", "--resource-type", "test", "--quiet", "--vars", json.dumps(variables)])
    with db.engine().connect() as conn:
        counts = [tuple(r) for r in conn.execute(sa.text(
            "select drug_level, drug_a, drug_b, outcome_code, patients_ab, days_ab, o_ab, e_ab_base, o_a, e_a,"
            " o_b, e_b, o_total from scan.scan_ddi_counts order by 1, 2, 3, 4"))]
        cases = [tuple(r) for r in conn.execute(sa.text(
            "select drug_level, drug_a, drug_b, outcome_code, patient_id, window_days, days_a, days_b, days_ab,"
            " event_a, event_b, event_ab from scan.scan_ddi_case_days order by 1, 2, 3, 4, 5"))]
    return counts, cases


PAIRS = (("atc5", "C10AA", "N05BA"), ("atc7", "C10AA05", "N05BA12"))


def test_observed_and_expected_counts_in_joint_exposure(ddi_marts):
    """Person-days at risk: men born 1950 (P1, P3, P7, P10-P13) and women born 1945 (P14-P20)
    are seven each, so 7 x 366 = 2562 days in 2016 and 7 x 365 = 2555 in 2017 and 2018, in age
    bands 13 (M) and 14 (F) every year. Strata rates of new onsets per day:
      E87, F 14: 2016 P14 P16 P20 3/2562; 2017 P15 P17 2/2555; 2018 P18 P19 2/2555
      I21, M 13: 2016 P1 P13 2/2562; 2017 P3 1/2555; F 14: 2016 P16 1/2562
      I21 elsewhere: P2 (F 1960, band 11, alone: 1/366 in 2016), P6 (2017), P5 (2018)
    Joint days per stratum (scan_ddi_pair_time): M 13 2016 40 (P10, P13); F 14 2016 30 (P14 20,
    P16 10), 2017 20 (P17), 2018 30 (P19); 6 co-exposed patients, 120 days.
    Exposed days of A: M 13 2016 180 (P1 P10 P11 P12 30, P13 60), 2017 30 (P3), 2018 30 (P7);
    F 14 2016 90 (P14 60, P16 30), 2017 60 (P15 P17), 2018 30 (P19); F 11 2016 30 (P2); P4, P8
    in strata without E87 or I21. Of B: M 13 2016 120 (P10-P13); F 14 30 for each of P14 P16
    (2016), P15 P17 (2017), P18 P19 (2018); P5 (M 1980, 2016) and P9 (F 1990, 2016) where E87
    and I21 have no onset that year.
    E87: o_ab = P14 + P19 (on the first joint day) = 2; P16 is in A-only time, P15 in B-only
    time (A ends the day B starts, that day), P17 unexposed, P18 takes B only.
      e_ab_base = 30 x 3/2562 + 20 x 2/2555 + 30 x 2/2555 = 90/2562 + 100/2555
      o_a = P14 P16 P19 = 3, e_a = 90 x 3/2562 + 60 x 2/2555 + 30 x 2/2555 = 270/2562 + 180/2555
      o_b = P14 P15 P18 P19 = 4, e_b = 60 x 3/2562 + 60 x 2/2555 + 60 x 2/2555 = 180/2562 + 240/2555
      o_total = 7 (P14-P20)
    I21: o_ab = P13 + P16 = 2.
      e_ab_base = 40 x 2/2562 + 30 x 1/2562 = 110/2562
      o_a = P3 P13 P16 = 3 (P1 after its episode, P2 before), e_a = 180 x 2/2562 + 30 x 1/2555
      + 90 x 1/2562 + 30 x 1/366 = 450/2562 + 30/2555 + 30/366
      o_b = P13 P16 = 2, e_b = 120 x 2/2562 + 60 x 1/2562 = 300/2562
      o_total = 7 (P1 P2 P3 P5 P6 P13 P16; P8's is not new)
    J18: P19's onset is the only one in joint exposure, under scan_min_events = 2: no row.
    ATC5 and ATC7 give the same rows (one molecule per class)."""
    counts, _ = ddi_marts
    e87 = (6, 120, 2, 90 / 2562 + 100 / 2555, 3, 270 / 2562 + 180 / 2555, 4, 180 / 2562 + 240 / 2555, 7)
    i21 = (6, 120, 2, 110 / 2562, 3, 450 / 2562 + 30 / 2555 + 30 / 366, 2, 300 / 2562, 7)
    expected = [(*pair, outcome, *values) for pair in PAIRS for outcome, values in (("E87", e87), ("I21", i21))]
    assert [r[:4] for r in counts] == [r[:4] for r in expected]
    for got, want in zip(counts, expected, strict=True):
        assert got[4:] == pytest.approx(want[4:], rel=1e-12), got[:4]
    # joint time lies inside each drug's exposed time
    assert all(r[8] >= r[6] and r[10] >= r[6] for r in counts)


def test_case_series_days_of_each_case(ddi_marts):
    """Cases of each outcome of scan_ddi_counts with an episode of A or B in the window (1096
    days): (patient, days_a, days_b, days_ab, event_a, event_b, event_ab).
    E87: P14 (60, 30, 20: onset in the joint interval), P15 (touching: onset the day A ends and
    B starts, in B only), P16 (onset in A only), P17 (onset after both), P18 (B only, days_a 0),
    P19 (onset on the first joint day); P20 took neither: no row.
    I21: P1 (A, onset after it), P2 (A, onset before it), P3 (onset in A), P5 (B only, onset
    in 2018), P13 (60, 30, 20, in the joint interval), P16 (onset in the joint interval); P6 took
    neither."""
    _, cases = ddi_marts
    per_outcome = {
        "E87": [(14, 60, 30, 20, 1, 1, 1), (15, 30, 30, 0, 0, 1, 0), (16, 30, 30, 10, 1, 0, 0),
                (17, 30, 30, 20, 0, 0, 0), (18, 0, 30, 0, 0, 1, 0), (19, 30, 30, 30, 1, 1, 1)],
        "I21": [(1, 30, 0, 0, 0, 0, 0), (2, 30, 0, 0, 0, 0, 0), (3, 30, 0, 0, 1, 0, 0),
                (5, 0, 30, 0, 0, 0, 0), (13, 60, 30, 20, 1, 1, 1), (16, 30, 30, 10, 1, 1, 1)],
    }
    assert cases == [(*pair, outcome, pid, 1096, *days) for pair in PAIRS
                     for outcome, rows in per_outcome.items() for pid, *days in rows]
