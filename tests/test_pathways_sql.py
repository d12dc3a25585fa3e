"""Pathways marts on a hand-written mini-extract: exact PDC/MPR (overlaps, gaps, stockpiling,
death), guideline indicators, lines of therapy, monthly states and care use.

One database and one dbt build for the module (the rows are read-only afterwards)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from conftest import scratch_database
from veille import db

DRUGS = [  # cip13, atc7, pack type
    ("3400930000001", "A10BA02", "NGC"),
    ("3400950000001", "A10BA02", "GC"),
    ("3400930000002", "A10BB09", "NGC"),
    ("3400930000003", "A10AE04", "NGC"),
    ("3400930000004", "C10AA05", "NGC"),
    ("3400930000005", "C07AB07", "NGC"),
    ("3400930000006", "B01AC06", "NGC"),
    ("3400930000007", "C09AA05", "NGC"),
]
MET, MET_GC, SU, INS, STATIN, BB, ASA, ACE = (d[0] for d in DRUGS)

PATIENTS = [  # id, sex, birth year, death date, department
    (1, 2, 1950, None, "075"),
    (2, 1, 1940, date(2020, 8, 31), "075"),
    (3, 1, 1960, None, "013"),
    (4, 2, 1955, None, "013"),
    (5, 1, 1948, None, "075"),
    (6, 1, 1952, None, "069"),
    (7, 2, 1958, None, "069"),
    (8, 2, 1962, None, "069"),
    (9, 2, 1950, None, "075"),
]

D = date
DISPENSINGS = [  # patient, date, cip13, packs, prescriber
    # patient 1: metformin, early refill carried over, a gap, a large pack cut by the window
    (1, D(2020, 1, 1), MET, 1, "DR_A"), (1, D(2020, 1, 21), MET, 1, "DR_A"),
    (1, D(2020, 3, 1), MET, 1, "DR_A"), (1, D(2020, 6, 1), MET, 1, "DR_B"),
    (1, D(2020, 12, 1), MET_GC, 1, "DR_A"),
    # patient 2: statin, a double pack, an early refill, a gap, death on 2020-08-31
    (2, D(2020, 3, 1), STATIN, 2, "DR_C"), (2, D(2020, 4, 15), STATIN, 1, "DR_C"),
    (2, D(2020, 5, 30), STATIN, 1, "DR_C"), (2, D(2020, 7, 10), STATIN, 1, "DR_C"),
    (2, D(2020, 8, 9), STATIN, 1, "DR_C"),
    # patient 3: two antihypertensives taken together (union, not stockpiling)
    (3, D(2020, 1, 10), BB, 1, "DR_C"), (3, D(2020, 1, 10), ACE, 1, "DR_C"),
    (3, D(2020, 2, 9), BB, 1, "DR_C"), (3, D(2020, 2, 9), ACE, 1, "DR_C"),
    # patient 4: diabetic in 2021
    (4, D(2021, 1, 5), MET, 1, "DR_B"), (4, D(2021, 4, 5), MET, 1, "DR_B"),
    (4, D(2021, 7, 5), MET, 1, "DR_B"),
    # patient 5: after MI, statin on the discharge day, antiplatelet, beta-blocker too late
    (5, D(2020, 3, 10), STATIN, 1, "DR_A"), (5, D(2020, 4, 1), ASA, 1, "DR_A"),
    (5, D(2020, 9, 10), BB, 1, "DR_B"),
    # patient 6: metformin, then + sulfonylurea, a short remnant, then insulin
    *[(6, D(2020, 1, 1 + 0), MET, 1, "DR_A")],
    (6, D(2020, 1, 31), MET, 1, "DR_A"), (6, D(2020, 3, 1), MET, 1, "DR_A"),
    (6, D(2020, 3, 31), MET, 1, "DR_A"), (6, D(2020, 4, 30), MET, 1, "DR_A"),
    (6, D(2020, 5, 30), MET, 1, "DR_A"),
    (6, D(2020, 3, 20), SU, 1, "DR_A"), (6, D(2020, 4, 19), SU, 1, "DR_A"),
    (6, D(2020, 5, 19), SU, 1, "DR_A"),
    (6, D(2020, 8, 1), INS, 1, "DR_A"), (6, D(2020, 8, 31), INS, 1, "DR_A"),
    (6, D(2020, 9, 30), INS, 1, "DR_A"),
    # patient 7: metformin, insulin, metformin again
    (7, D(2020, 1, 1), MET, 2, "DR_B"), (7, D(2020, 5, 1), INS, 2, "DR_B"),
    (7, D(2020, 9, 1), MET, 2, "DR_B"),
    # patient 8: metformin, a 10-day overlap with a sulfonylurea (dropped), metformin again
    (8, D(2020, 1, 1), MET, 2, "DR_B"), (8, D(2020, 2, 20), SU, 1, "DR_B"),
    (8, D(2020, 5, 1), MET, 2, "DR_B"),
]
LAB_TESTS = [  # patient, date, nabm
    (1, D(2020, 3, 10), "1577"), (1, D(2020, 9, 10), "1577"), (1, D(2020, 10, 20), "1610"),
    (4, D(2021, 2, 1), "1577"), (4, D(2021, 9, 1), "592"),
    (6, D(2020, 5, 20), "1577"),
]
ACTS = [(4, D(2020, 6, 1), "BGQP002"), (6, D(2020, 5, 5), "BGQP007")]
VISITS = [  # patient, date, nature, specialty, amount reimbursed
    (1, D(2020, 4, 15), 1111, "1", 17.50), (1, D(2020, 8, 15), 1111, "1", 17.50),
    (1, D(2020, 11, 30), 1111, "1", 17.50),
    (4, D(2020, 9, 1), 1111, "1", 17.50), (4, D(2020, 12, 1), 1111, "1", 17.50),
    (4, D(2021, 11, 1), 1111, "1", 17.50), (4, D(2021, 12, 20), 1111, "1", 17.50),
    (5, D(2020, 6, 20), 1111, "1", 17.50), (5, D(2020, 12, 1), 1111, "1", 17.50),
    (9, D(2020, 1, 1), 1111, "01", 17.50), (9, D(2020, 2, 1), 1112, "15", 21.00),
    (9, D(2021, 12, 31), 1111, "1", 17.50),
    # patient 6: an eye examination billed as an ophthalmology visit and a fundus act
    (6, D(2020, 5, 5), 1112, "15", 21.00),
]
STAYS = [  # stay id, patient, admission, discharge, principal diagnosis
    (1, 5, D(2020, 3, 1), D(2020, 3, 10), "I214"),
    (2, 9, D(2020, 2, 10), D(2020, 2, 14), "K802"),
]


def _insert(conn: sa.Connection) -> None:
    x = conn.execute
    x(sa.text("insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read, "
              "rows_loaded, rows_rejected, started_at, finished_at, seconds) values ('t', 't', 't', "
              "repeat('0', 64), 0, 0, 0, now(), now(), 0)"))
    for cip, atc, pack in DRUGS:
        x(sa.text("insert into ref.drug (cip13, atc7, pack_type, units_per_pack) values (:c, :a, :p, 30)"),
          {"c": cip, "a": atc, "p": pack})
    for pid in ("DR_A", "DR_B", "DR_C", "LAB", "PH"):
        x(sa.text("insert into claims.provider (provider_id, kind, specialty) values (:p, 'professional', '1')"),
          {"p": pid})
    for pid, sex, by, death, dpt in PATIENTS:
        x(sa.text("insert into claims.patient (patient_id, ben_nir_psa, ben_rng_gem, sex, birth_year, "
                  "death_date, residence_dpt) overriding system value values (:i, :n, 1, :s, :b, :d, :dpt)"),
          {"i": pid, "n": f"NIR{pid:014d}", "s": sex, "b": by, "d": death, "dpt": dpt})
    for p, d, cip, packs, pre in DISPENSINGS:
        x(sa.text("insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, prescriber_id, "
                  "amount_reimbursed, flow_month, batch_id) values (:p, :d, :c, :k, :pre, 5.00, :d, 1)"),
          {"p": p, "d": d, "c": cip, "k": packs, "pre": pre})
    for p, d, code in LAB_TESTS:
        x(sa.text("insert into claims.lab_test (patient_id, test_date, nabm_code, quantity, provider_id, "
                  "prescriber_id, flow_month, batch_id) values (:p, :d, :c, 1, 'LAB', 'DR_A', :d, 1)"),
          {"p": p, "d": d, "c": code})
    for p, d, code in ACTS:
        x(sa.text("insert into claims.medical_act (patient_id, act_date, ccam_code, flow_month, batch_id) "
                  "values (:p, :d, :c, :d, 1)"), {"p": p, "d": d, "c": code})
    for p, d, nature, spe, amount in VISITS:
        x(sa.text("insert into claims.service_line (patient_id, service_date, nature_code, quantity, "
                  "provider_specialty, amount_reimbursed, flow_month, batch_id) "
                  "values (:p, :d, :n, 1, :s, :a, :d, 1)"),
          {"p": p, "d": d, "n": nature, "s": spe, "a": amount})
    for sid, p, adm, dis, dp in STAYS:
        x(sa.text("insert into claims.hospital_stay (stay_id, facility_id, rsa_num, pmsi_year, patient_id, "
                  "admission_date, discharge_date, los_days, batch_id) overriding system value "
                  "values (:i, 'F1', :i, 2020, :p, :a, :d, :los, 1)"),
          {"i": sid, "p": p, "a": adm, "d": dis, "los": (dis - adm).days})
        x(sa.text("insert into claims.stay_diagnosis (stay_id, icd10, role) values (:i, :dp, 'DP')"),
          {"i": sid, "dp": dp})


@pytest.fixture(scope="module")
def mini(pg_server):
    """A database with the mini-extract, the shipped indicators and the pathways marts built."""
    from veille.pathways import indicators
    from veille.pathways.run import RunSettings, build_marts

    with scratch_database("t_pathways_" + uuid.uuid4().hex[:8], migrated=True) as name:
        with db.engine().begin() as conn:
            _insert(conn)
            indicators.register(conn, indicators.read_indicators())
        build_marts(RunSettings(months=12))
        yield name


def _rows(sql: str) -> list[tuple]:
    with db.engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_pdc_and_mpr_exact(mini):
    rows = _rows("select patient_id, drug_class, window_start, window_end, window_days, full_window, "
                 "fills, days_supplied, days_covered, pdc::float8, mpr::float8, adherent "
                 "from pathways.fct_pathways_adherence order by patient_id, drug_class")
    assert rows == [
        # carry-over of the early refill, a 2-month gap, the large pack cut at the window's end
        (1, "glucose_lowering", D(2020, 1, 1), D(2020, 12, 31), 365, True, 5, 210, 150,
         0.411, 0.5753, False),
        # double pack (60 days), early refill carried forward, an 11-day gap, death on 08-31
        (2, "statin", D(2020, 3, 1), D(2020, 9, 1), 184, False, 5, 180, 173, 0.9402, 0.9783, True),
        # two molecules of the class on the same days: the union, not 120 days of stock
        (3, "antihypertensive", D(2020, 1, 10), D(2021, 1, 9), 365, True, 4, 120, 60,
         0.1644, 0.3288, False),
        (4, "glucose_lowering", D(2021, 1, 5), D(2022, 1, 1), 361, False, 3, 90, 90, 0.2493,
         0.2493, False),
        (5, "antihypertensive", D(2020, 9, 10), D(2021, 9, 10), 365, True, 1, 30, 30, 0.0822,
         0.0822, False),
        (5, "antiplatelet", D(2020, 4, 1), D(2021, 4, 1), 365, True, 1, 30, 30, 0.0822, 0.0822,
         False),
        (5, "statin", D(2020, 3, 10), D(2021, 3, 10), 365, True, 1, 30, 30, 0.0822, 0.0822, False),
        (6, "glucose_lowering", D(2020, 1, 1), D(2020, 12, 31), 365, True, 12, 360, 270, 0.7397,
         0.9863, False),
        (7, "glucose_lowering", D(2020, 1, 1), D(2020, 12, 31), 365, True, 3, 180, 180, 0.4932,
         0.4932, False),
        (8, "glucose_lowering", D(2020, 1, 1), D(2020, 12, 31), 365, True, 3, 150, 140, 0.3836,
         0.411, False),
    ]


def test_indicators_from_yaml_exact(mini):
    rows = _rows("select indicator_id, patient_id, year, period_start, period_end, department, "
                 "prescriber_id, compliant from pathways.fct_pathways_indicator_patient "
                 "order by indicator_id, patient_id")
    y20, y21 = (D(2020, 1, 1), D(2020, 12, 31)), (D(2021, 1, 1), D(2021, 12, 31))
    assert rows == [
        ("diabetes_creatinine", 1, 2020, *y20, "075", "DR_A", False),
        ("diabetes_creatinine", 4, 2021, *y21, "013", "DR_B", True),
        ("diabetes_creatinine", 6, 2020, *y20, "069", "DR_A", False),
        ("diabetes_creatinine", 7, 2020, *y20, "069", "DR_B", False),
        # two-year window: only 2021 has its first year inside the data
        ("diabetes_eye_exam", 4, 2021, D(2020, 1, 1), D(2021, 12, 31), "013", "DR_B", True),
        ("diabetes_hba1c", 1, 2020, *y20, "075", "DR_A", True),
        ("diabetes_hba1c", 4, 2021, *y21, "013", "DR_B", False),
        ("diabetes_hba1c", 6, 2020, *y20, "069", "DR_A", False),
        ("diabetes_hba1c", 7, 2020, *y20, "069", "DR_B", False),
        ("diabetes_lipids", 1, 2020, *y20, "075", "DR_A", False),
        ("diabetes_lipids", 4, 2021, *y21, "013", "DR_B", False),
        ("diabetes_lipids", 6, 2020, *y20, "069", "DR_A", False),
        ("diabetes_lipids", 7, 2020, *y20, "069", "DR_B", False),
        # discharge day included; the beta-blocker comes after the 180 days
        ("post_mi_antiplatelet", 5, 2020, D(2020, 3, 10), D(2020, 9, 5), "075", "DR_A", True),
        ("post_mi_beta_blocker", 5, 2020, D(2020, 3, 10), D(2020, 9, 5), "075", "DR_A", False),
        ("post_mi_statin", 5, 2020, D(2020, 3, 10), D(2020, 9, 5), "075", "DR_A", True),
        ("post_mi_triple", 5, 2020, D(2020, 3, 10), D(2020, 9, 5), "075", "DR_A", False),
    ]


def test_treatment_lines_filters(mini):
    rows = _rows("select patient_id, path_filter, string_agg(regimen, ' > ' order by line_number), "
                 "bool_and(new_user) from pathways.fct_pathways_treatment_lines "
                 "group by patient_id, path_filter order by patient_id, path_filter")
    assert rows == [
        (1, "all", "metformin > metformin > metformin", False),
        (1, "changes", "metformin", False),
        (1, "first", "metformin", False),
        (4, "all", "metformin > metformin > metformin", True),
        (4, "changes", "metformin", True),
        (4, "first", "metformin", True),
        # the 11-day metformin remnant after the combination is dropped
        (6, "all", "metformin > metformin+sulfonylurea > insulin", False),
        (6, "changes", "metformin > metformin+sulfonylurea > insulin", False),
        (6, "first", "metformin > metformin+sulfonylurea > insulin", False),
        (7, "all", "metformin > insulin > metformin", False),
        (7, "changes", "metformin > insulin > metformin", False),
        (7, "first", "metformin > insulin", False),
        # a 10-day combination and the 20-day sulfonylurea remnant are dropped
        (8, "all", "metformin > metformin", False),
        (8, "changes", "metformin", False),
        (8, "first", "metformin", False),
    ]
    segments = _rows("select line_number, regimen, line_start, line_end from "
                     "pathways.fct_pathways_treatment_lines where patient_id = 6 and path_filter = 'all' "
                     "order by line_number")
    assert segments == [
        (1, "metformin", D(2020, 1, 1), D(2020, 3, 20)),
        (2, "metformin+sulfonylurea", D(2020, 3, 20), D(2020, 6, 18)),
        (3, "insulin", D(2020, 8, 1), D(2020, 10, 30)),
    ]


def test_monthly_states(mini):
    rows = _rows("select patient_id, index_date, months_observed, states "
                 "from pathways.fct_pathways_state_sequences where patient_id in (1, 6) order by 1")
    assert rows == [
        (1, D(2020, 1, 1), 12, "GGGAAGAAAAAG"),
        # G one class, M two classes, A none, S insulin, '.' after the end of observation
        (6, D(2020, 1, 1), 11, "GGGMMMASSSA."),
    ]


def test_monitoring_contacts_per_month(mini):
    # patient 6's eye examination (a visit and an act the same day) is one contact; patient 4's
    # act of 2020-06-01 falls before its first dispensing; 1610 is not a monitoring test
    assert _rows("select patient_id, contact_date, item from "
                 "pathways.int_pathways__monitoring_contacts order by 1, 2, 3") == [
        (1, D(2020, 3, 10), "hba1c"), (1, D(2020, 9, 10), "hba1c"),
        (4, D(2020, 6, 1), "eye_exam"), (4, D(2021, 2, 1), "hba1c"),
        (4, D(2021, 9, 1), "creatinine"),
        (6, D(2020, 5, 5), "eye_exam"), (6, D(2020, 5, 20), "hba1c"),
        (9, D(2020, 2, 1), "eye_exam"),  # an ophthalmology visit (patient 9 has no sequence)
    ]
    assert _rows("select patient_id, month_index, item, contact_days from "
                 "pathways.fct_pathways_monthly_contacts order by 1, 2, 3") == [
        (1, 2, "hba1c", 1), (1, 8, "hba1c", 1),
        (4, 1, "hba1c", 1), (4, 8, "creatinine", 1),
        (6, 4, "eye_exam", 1), (6, 4, "hba1c", 1),
    ]


def test_care_use_patient_year(mini):
    rows = _rows("select year, observed_days, age, age_band, sex, department, gp_visits, "
                 "specialist_visits, lab_tests, medical_acts, dispensings, hospital_stays, "
                 "hospital_days, amount_reimbursed::float8 from pathways.fct_pathways_care_use "
                 "where patient_id = 9 order by year")
    assert rows == [
        (2020, 105, 70, "70-74", 2, "075", 1, 1, 0, 0, 0, 1, 4, 38.5),
        (2021, 1, 71, "70-74", 2, "075", 1, 0, 0, 0, 0, 0, 0, 17.5),
    ]
    assert _rows("select patient_id, year, specialty, visits from "
                 "pathways.fct_pathways_specialist_visits order by 1, 2") == [
        (6, 2020, "15", 1), (9, 2020, "15", 1)]


def test_refill_intervals_and_late_refills(mini):
    # intervals between fills of one drug in observed months, late beyond 1.1 x the days
    # covered, left out beyond 4 x (a stop, not a refill)
    assert _rows("select patient_id, refill_intervals, late_refills "
                 "from pathways.agg_pathways_patient_refills order by 1") == [
        # 20 days, then 40 and 92 days after 30-day packs (late); 183 days is a stop
        (1, 3, 2),
        # 90 days between 30-day packs, twice
        (4, 2, 2),
        # metformin, sulfonylurea and insulin refilled every 30 days (Jan 31 to Mar 1 included)
        (6, 9, 0),
        # 121 days after a 60-day double pack: late; patient 7's 244 days are a stop
        (8, 1, 1),
    ]
