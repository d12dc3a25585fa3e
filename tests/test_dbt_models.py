"""dbt build on a hand-written mini extract: exact rows of the observation periods, outcome
events, episodes and every study mart (cohort, survival, attrition, covariates, counting process).

The extract (2018-01-05 to 2020-12-31): exposure A10BG (pioglitazone), active comparator A10BH,
outcome bladder cancer / myocardial infarction / generic `dp:K35`. See the patient notes below.
"""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from conftest import scratch_database
from veille import db
from veille.dbt import run_dbt

DRUGS = [
    # cip13, atc7, pack_type
    ("3400000000001", "A10BG03", "NGC"),
    ("3400000000002", "A10BH01", "NGC"),
    ("3400000000003", "A10BA02", "NGC"),
    ("3400000000004", "C10AA01", "GC"),
    ("3400000000006", "A10BG03", "GC"),
]
PIO, DPP4, MET, STATIN, PIO_GC = (d[0] for d in DRUGS)

# patient_id: (sex, birth_year, birth_month, death_date)
PATIENTS = {
    1: (1, 1950, 6, None),  # exposed, bladder cancer during exposure, K35 stay in the year before
    2: (2, 1960, None, None),  # comparator, MI during exposure, treatment end
    3: (1, 1950, None, None),  # exposed too early: fails the washout
    4: (1, 1950, None, None),  # starts both drugs the same day: not a new user
    5: (2, 1989, None, None),  # exposed, aged 30: fails age >= 40
    6: (1, 1950, None, None),  # exposed, bladder cancer before index: excluded for that outcome
    7: (2, 1960, None, date(2019, 9, 15)),  # comparator, dies during exposure
    8: (1, 1950, None, None),  # exposed, switches to the comparator
    9: (1, 1950, None, None),  # exposed, trackloss during exposure, comes back in 2020
    10: (2, 1955, None, None),  # exposed two years (large packs): counting-process split at 365 days
    11: (1, 1950, None, None),  # outcome algorithm cases, no study drug
    12: (1, 1950, None, date(2019, 5, 20)),  # comparator dying 19 days after index
}


def _service_lines(patient: int, start: str, end: str) -> str:
    return f"""
        insert into claims.service_line (patient_id, service_date, nature_code, flow_month, batch_id)
        select {patient}, d::date, 1111, date_trunc('month', d)::date, 1
        from generate_series(date '{start}', date '{end}', interval '60 days') as d"""


def _dispensings(patient: int, cip: str, dates: list[str], packs: int = 1) -> str:
    rows = ", ".join(
        f"({patient}, date '{d}', '{cip}', {packs}, date_trunc('month', date '{d}')::date, 1)"
        for d in dates
    )
    return f"""
        insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month, batch_id)
        values {rows}"""


def _stay(patient: int, day: str, diagnoses: list[tuple[str, str]], acts: list[str] = ()) -> str:
    rsa = uuid.uuid4().hex[:12]
    sql = f"""
        with stay as (
            insert into claims.hospital_stay (facility_id, rsa_num, pmsi_year, patient_id,
                admission_date, discharge_date, batch_id)
            values ('F1', '{rsa}', 2019, {patient}, date '{day}', date '{day}' + 2, 1)
            returning stay_id
        ), diagnoses as (
            insert into claims.stay_diagnosis (stay_id, icd10, role)
            select stay_id, code, role from stay,
                (values {", ".join(f"('{c}', '{r}')" for c, r in diagnoses)}) as v (code, role)
        )"""
    if acts:
        values = ", ".join(f"('{a}')" for a in acts)
        sql += f"""
        insert into claims.stay_act (stay_id, ccam_code, act_date)
        select stay_id, code, date '{day}' from stay, (values {values}) as v (code)"""
    else:
        sql += " select 1"
    return sql


def extract_statements() -> list[str]:
    out = [
        """insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read,
               rows_loaded, rows_rejected, started_at, finished_at, seconds)
           values ('x', 'x', 'x', repeat('0', 64), 0, 0, 0, now(), now(), 0)""",
        "insert into ref.drug (cip13, atc7, pack_type, units_per_pack) values "
        + ", ".join(f"('{c}', '{a}', '{p}', 30)" for c, a, p in DRUGS),
    ]
    for pid, (sex, year, month, death) in PATIENTS.items():
        death_sql = f"date '{death}'" if death else "null"
        out.append(
            "insert into claims.patient (patient_id, ben_nir_psa, ben_rng_gem, sex, birth_year,"
            f" birth_month, death_date) overriding system value values ({pid}, 'P{pid}', 1, {sex},"
            f" {year}, {month or 'null'}, {death_sql})"
        )
    for pid in (1, 2, 3, 4, 5, 6, 8, 10, 11):
        out.append(_service_lines(pid, "2018-01-05", "2020-12-31"))
    out += [
        _service_lines(7, "2018-01-05", "2019-09-15"),
        _service_lines(9, "2018-01-05", "2019-01-01"),
        _service_lines(12, "2018-01-05", "2019-05-20"),
        _dispensings(12, DPP4, ["2019-05-01"]),
        _stay(8, "2019-02-15", [("K358", "DP")]),
        ("insert into claims.service_line (patient_id, service_date, nature_code, flow_month, batch_id)"
        " values (2, date '2020-12-31', 1111, date '2020-12-01', 1),"
        " (9, date '2020-06-01', 1111, date '2020-06-01', 1)"),
        # patient 1
        _dispensings(1, MET, ["2018-02-01", "2018-03-01"]),
        _dispensings(1, STATIN, ["2019-01-10"]),
        _dispensings(1, PIO, ["2019-03-01", "2019-04-01", "2019-05-01"]),
        _stay(1, "2018-06-01", [("K350", "DP")]),
        _stay(1, "2019-05-15", [("C679", "DP")]),
        ("insert into claims.ald (patient_id, ald_number, icd10, start_date, batch_id)"
        " values (1, 8, 'E11', date '2017-01-01', 1)"),
        # patient 2
        _dispensings(2, DPP4, ["2019-06-01", "2019-07-01", "2019-08-01", "2019-09-01"]),
        _stay(2, "2019-07-01", [("I210", "DP")]),
        _dispensings(3, PIO, ["2018-03-01"]),
        _dispensings(4, PIO, ["2019-04-01"]),
        _dispensings(4, DPP4, ["2019-04-01"]),
        _dispensings(5, PIO, ["2019-07-01"]),
        _dispensings(6, PIO, ["2019-08-01"]),
        _stay(6, "2019-01-20", [("C670", "DP")]),
        _dispensings(7, DPP4, ["2019-08-01"], packs=3),
        _dispensings(8, PIO, ["2019-02-01", "2019-03-01"]),
        _dispensings(8, DPP4, ["2019-03-20"]),
        _stay(8, "2019-03-01", [("J180", "DP"), ("I210", "DAS")]),
        _dispensings(9, PIO, ["2019-01-10"]),
        _dispensings(9, PIO_GC, ["2019-02-10"]),
        """insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month, batch_id)
           select 10, d::date, '3400000000006', 1, date_trunc('month', d)::date, 1
           from generate_series(date '2019-01-05', date '2020-12-25', interval '90 days') as d""",
        # patient 11: outcome algorithms
        _stay(11, "2019-02-01", [("I130", "DP"), ("I500", "DAS")]),
        _stay(11, "2019-03-01", [("J81", "DP")]),
        _stay(11, "2019-04-01", [("C679", "DAS"), ("C780", "DAS")]),
        _stay(11, "2019-05-01", [("C670", "DP")], acts=["JDFE002"]),
        _stay(11, "2019-11-15", [("K564", "DP"), ("C671", "DR")]),
        ("insert into claims.medical_act (patient_id, act_date, ccam_code, flow_month, batch_id)"
        " values (11, date '2020-06-01', 'JDFA005', date '2020-06-01', 1)"),
        _stay(11, "2019-07-01", [("S721", "DP")]),
        _stay(11, "2019-08-01", [("S723", "DP")]),
        _stay(11, "2019-09-01", [("I220", "DP")]),
        # the study registry
        """insert into study.cohort_definition (cohort_id, study_id, exposure_label, exposure_atc,
               comparator_kind, comparator_label, comparator_atc, age_min, covariate_atc)
           values ('pio_vs_dpp4', 'pio', 'pioglitazone', '{A10BG}', 'active', 'DPP-4 inhibitors',
               '{A10BH}', 40, '{C10,N02}')""",
        # non-user comparator among users of A10B drugs
        """insert into study.cohort_definition (cohort_id, study_id, exposure_label, exposure_atc,
               comparator_kind, comparator_label, base_atc)
           values ('pio_vs_nonusers', 'pio', 'pioglitazone', '{A10BG}', 'non_user',
               'other A10B users', '{A10B}')""",
        # intention to treat, 30 days of latency, 200 days of follow-up at most
        """insert into study.cohort_definition (cohort_id, study_id, exposure_label, exposure_atc,
               comparator_kind, comparator_label, comparator_atc, age_min, strategy,
               start_delay_days, max_followup_days)
           values ('pio_itt', 'pio', 'pioglitazone', '{A10BG}', 'active', 'DPP-4 inhibitors',
               '{A10BH}', 40, 'itt', 30, 200)""",
        """insert into study.cohort_outcome (cohort_id, outcome_id, lookback_days) values
           ('pio_vs_dpp4', 'bladder_cancer_naive', 365),
           ('pio_vs_dpp4', 'myocardial_infarction', 365),
           ('pio_vs_dpp4', 'dp:K35', 365),
           ('pio_vs_nonusers', 'myocardial_infarction', 365),
           ('pio_itt', 'myocardial_infarction', 365),
           ('pio_itt', 'dp:K35', 365)""",
        # cumulative-duration categories: the default 12 and 24 months, and 60 days for pio_itt
        """insert into study.cohort_exposure_category (cohort_id, measure, category_number, lower_bound, unit, label)
           select cohort_id, 'duration', k, bound, 'days', label
           from (values ('pio_vs_dpp4'), ('pio_vs_nonusers')) as c (cohort_id)
           cross join (values (0, 0, '<12 months'), (1, 365, '12-23 months'), (2, 730, '>=24 months')) as b (k, bound, label)
           union all
           values ('pio_itt', 'duration', 0, 0, 'days', '<60 days'), ('pio_itt', 'duration', 1, 60, 'days', '>=60 days')""",
        # a self-controlled case series of pioglitazone and bladder cancer (principal diagnosis C67)
        """insert into study.sccs_definition (sccs_id, study_id, exposure_label, exposure_atc,
               pre_exposure_days, age_group_bounds, calendar_adjustment)
           values ('pio_sccs', 'pio_sccs', 'pioglitazone', '{A10BG}', 30, '{70}', 'year')""",
        """insert into study.sccs_window (sccs_id, window_id, label, start_day, end_day) values
           ('pio_sccs', 1, 'first month', 0, 29), ('pio_sccs', 2, 'after', 30, null)""",
        "insert into study.sccs_outcome (sccs_id, outcome_id) values ('pio_sccs', 'dp:C67')",
        # ... as a multi-drug ConvSCCS, with metformin beside pioglitazone (drug 0)
        "insert into study.sccs_drug (sccs_id, drug_id, label, atc_prefixes) values ('pio_sccs', 1, 'metformin', '{A10BA}')",
    ]
    return out


@pytest.fixture(scope="module")
def built(pg_server, tmp_path_factory):
    """One database with the mini extract, built once by `dbt build` for the whole module."""
    with scratch_database("t_dbt_" + uuid.uuid4().hex[:8], migrated=True) as name:
        with db.engine().begin() as conn:
            for sql in extract_statements():
                conn.execute(sa.text(sql))
        target = tmp_path_factory.mktemp("dbt_target")  # other dbt runs may share dbt_project/target
        run_dbt(["build", "--quiet", "--selector", "warehouse", "--target-path", str(target)])
        yield name


@pytest.fixture()
def q(built):
    os.environ["VEILLE_DATABASE"] = built
    db.reset_cache()

    def query(sql: str) -> list[tuple]:
        with db.engine().connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    return query


def d(s: str) -> date:
    return date.fromisoformat(s)


def test_observation_periods_cut_at_trackloss_and_death(q):
    rows = q("""select patient_id, observation_period_number, observation_start, observation_end,
                       end_reason
                from marts.fct_observation_periods where patient_id in (2, 7, 9) order by 1, 2""")
    assert rows == [
        (2, 1, d("2018-01-05"), d("2020-12-31"), "data_end"),
        (7, 1, d("2018-01-05"), d("2019-09-15"), "death"),
        (9, 1, d("2018-01-05"), d("2019-04-10"), "trackloss"),
        (9, 2, d("2020-06-01"), d("2020-08-01"), "trackloss"),
    ]


def test_outcome_algorithms(q):
    rows = q("""select outcome_id, event_date from marts.fct_outcome_events
                where patient_id = 11 order by 1, 2""")
    assert rows == [
        ("bladder_cancer_broad", d("2019-04-01")),
        ("bladder_cancer_broad", d("2019-05-01")),
        ("bladder_cancer_broad", d("2019-11-15")),
        ("bladder_cancer_naive", d("2019-05-01")),
        ("bladder_cancer_naive", d("2019-11-15")),
        ("bladder_cancer_narrow", d("2019-05-01")),
        ("dp:C67", d("2019-05-01")),  # a generic outcome of the case-series registry
        ("heart_failure", d("2019-02-01")),
        ("hip_fracture", d("2019-07-01")),
        ("myocardial_infarction", d("2019-09-01")),
    ]
    assert q("select patient_id, event_date from marts.fct_outcome_events"
             " where outcome_id = 'dp:K35' order by 1") == [(1, d("2018-06-01")), (8, d("2019-02-15"))]


def test_drug_episodes(q):
    rows = q("""select patient_id, drug_code, episode_number, episode_start, episode_end, end_reason,
                       n_dispensings
                from marts.fct_drug_episodes where patient_id in (1, 7, 9) order by 1, 2, 3""")
    assert rows == [
        (1, "A10BA02", 1, d("2018-02-01"), d("2018-04-02"), "treatment_end", 2),
        (1, "A10BG03", 1, d("2019-03-01"), d("2019-05-31"), "treatment_end", 3),
        (1, "C10AA01", 1, d("2019-01-10"), d("2019-04-10"), "treatment_end", 1),
        (7, "A10BH01", 1, d("2019-08-01"), d("2019-09-15"), "death", 1),
        (9, "A10BG03", 1, d("2019-01-10"), d("2019-05-11"), "treatment_end", 2),
    ]


def test_study_cohort(q):
    rows = q("""select patient_id, exposed, index_date, entry_date, age_at_index, sex,
                       treatment_end_date, censor_date, censor_reason
                from marts.fct_study_cohort where cohort_id = 'pio_vs_dpp4' order by patient_id""")
    assert rows == [
        (1, 1, d("2019-03-01"), d("2019-03-01"), 68, 1, d("2019-05-31"), d("2019-05-31"), "treatment_end"),
        (2, 0, d("2019-06-01"), d("2019-06-01"), 59, 2, d("2019-10-01"), d("2019-10-01"), "treatment_end"),
        (6, 1, d("2019-08-01"), d("2019-08-01"), 69, 1, d("2019-08-31"), d("2019-08-31"), "treatment_end"),
        (7, 0, d("2019-08-01"), d("2019-08-01"), 59, 2, d("2019-09-15"), d("2019-09-15"), "death"),
        (8, 1, d("2019-02-01"), d("2019-02-01"), 69, 1, d("2019-04-02"), d("2019-03-20"), "switch"),
        (9, 1, d("2019-01-10"), d("2019-01-10"), 69, 1, d("2019-05-11"), d("2019-04-10"), "trackloss"),
        (10, 1, d("2019-01-05"), d("2019-01-05"), 64, 2, d("2021-03-25"), d("2020-12-31"), "study_end"),
        (12, 0, d("2019-05-01"), d("2019-05-01"), 69, 1, d("2019-05-20"), d("2019-05-20"), "death"),
    ]


def test_attrition(q):
    rows = q("""select outcome_id, step, criterion, n_exposed, n_comparator
                from marts.fct_study_attrition where cohort_id = 'pio_vs_dpp4'
                order by outcome_id nulls first, step""")
    cohort_steps = [
        (None, 1, "new users", 7, 3),
        (None, 2, "washout", 6, 3),
        (None, 3, "prior observation", 6, 3),
        (None, 4, "age", 5, 3),
        (None, 5, "sex", 5, 3),
        (None, 6, "study period", 5, 3),
        (None, 7, "min purchases", 5, 3),
    ]

    def outcome(name, n_exposed, n_comparator):
        return [
            (name, 8, "no outcome in lookback", n_exposed, n_comparator),
            (name, 9, "no outcome between index and entry", n_exposed, n_comparator),
            (name, 10, "entry on or before exit", n_exposed, n_comparator),
        ]

    assert rows == cohort_steps + outcome("bladder_cancer_naive", 4, 3) + outcome(
        "dp:K35", 4, 3
    ) + outcome("myocardial_infarction", 5, 3)


def test_survival(q):
    rows = q("""select outcome_id, patient_id, exposed, exit_date, event, event_date, time_days,
                       exit_reason
                from marts.fct_study_survival where cohort_id = 'pio_vs_dpp4' order by 1, 2""")
    assert rows == [
        ("bladder_cancer_naive", 1, 1, d("2019-05-15"), 1, d("2019-05-15"), 75, "event"),
        ("bladder_cancer_naive", 2, 0, d("2019-10-01"), 0, None, 122, "treatment_end"),
        ("bladder_cancer_naive", 7, 0, d("2019-09-15"), 0, None, 45, "death"),
        ("bladder_cancer_naive", 8, 1, d("2019-03-20"), 0, None, 47, "switch"),
        ("bladder_cancer_naive", 9, 1, d("2019-04-10"), 0, None, 90, "trackloss"),
        ("bladder_cancer_naive", 10, 1, d("2020-12-31"), 0, None, 726, "study_end"),
        ("bladder_cancer_naive", 12, 0, d("2019-05-20"), 0, None, 19, "death"),
        ("dp:K35", 2, 0, d("2019-10-01"), 0, None, 122, "treatment_end"),
        ("dp:K35", 6, 1, d("2019-08-31"), 0, None, 30, "treatment_end"),
        ("dp:K35", 7, 0, d("2019-09-15"), 0, None, 45, "death"),
        ("dp:K35", 8, 1, d("2019-02-15"), 1, d("2019-02-15"), 14, "event"),
        ("dp:K35", 9, 1, d("2019-04-10"), 0, None, 90, "trackloss"),
        ("dp:K35", 10, 1, d("2020-12-31"), 0, None, 726, "study_end"),
        ("dp:K35", 12, 0, d("2019-05-20"), 0, None, 19, "death"),
        ("myocardial_infarction", 1, 1, d("2019-05-31"), 0, None, 91, "treatment_end"),
        ("myocardial_infarction", 2, 0, d("2019-07-01"), 1, d("2019-07-01"), 30, "event"),
        ("myocardial_infarction", 6, 1, d("2019-08-31"), 0, None, 30, "treatment_end"),
        ("myocardial_infarction", 7, 0, d("2019-09-15"), 0, None, 45, "death"),
        ("myocardial_infarction", 8, 1, d("2019-03-20"), 0, None, 47, "switch"),
        ("myocardial_infarction", 9, 1, d("2019-04-10"), 0, None, 90, "trackloss"),
        ("myocardial_infarction", 10, 1, d("2020-12-31"), 0, None, 726, "study_end"),
        ("myocardial_infarction", 12, 0, d("2019-05-20"), 0, None, 19, "death"),
    ]


def test_baseline_covariates(q):
    rows = q("""select patient_id, ald_count, ald_diabetes, n_stays_prior_year, n_drugs_prior_year,
                       index_year
                from marts.fct_study_survival where outcome_id = 'myocardial_infarction'
                and cohort_id = 'pio_vs_dpp4' and patient_id in (1, 6, 8) order by 1""")
    assert rows == [(1, 1, 1, 1, 2, 2019), (6, 0, 0, 1, 0, 2019), (8, 0, 0, 0, 0, 2019)]
    classes = q("""select patient_id, atc_class, used from marts.fct_study_covariate_class
                   where cohort_id = 'pio_vs_dpp4' and patient_id in (1, 2) order by 1, 2""")
    assert classes == [(1, "C10", 1), (1, "N02", 0), (2, "C10", 0), (2, "N02", 0)]


def test_counting_process_splits_at_one_year(q):
    rows = q("""select patient_id, start_day, stop_day, event, cum_exposure_days, cum_exposure_category
                from marts.fct_study_counting_process
                where cohort_id = 'pio_vs_dpp4' and outcome_id = 'bladder_cancer_naive'
                and patient_id in (1, 10) order by 1, 2""")
    assert rows == [
        (1, 0, 75, 1, 0, "<12 months"),
        (10, 0, 365, 0, 0, "<12 months"),
        (10, 365, 726, 0, 365, "12-23 months"),
    ]


def test_non_user_comparator_cohort(q):
    rows = q("""select patient_id, exposed, index_date, treatment_end_date, censor_date, censor_reason
                from marts.fct_study_cohort where cohort_id = 'pio_vs_nonusers' order by 1""")
    assert rows == [
        (1, 1, d("2019-03-01"), d("2019-05-31"), d("2019-05-31"), "treatment_end"),
        (2, 0, d("2019-06-01"), None, d("2020-12-31"), "study_end"),
        (4, 1, d("2019-04-01"), d("2019-05-01"), d("2019-05-01"), "treatment_end"),
        (5, 1, d("2019-07-01"), d("2019-07-31"), d("2019-07-31"), "treatment_end"),
        (6, 1, d("2019-08-01"), d("2019-08-31"), d("2019-08-31"), "treatment_end"),
        (7, 0, d("2019-08-01"), None, d("2019-09-15"), "death"),
        (8, 1, d("2019-02-01"), d("2019-04-02"), d("2019-04-02"), "treatment_end"),
        (9, 1, d("2019-01-10"), d("2019-05-11"), d("2019-04-10"), "trackloss"),
        (10, 1, d("2019-01-05"), d("2021-03-25"), d("2020-12-31"), "study_end"),
        (12, 0, d("2019-05-01"), None, d("2019-05-20"), "death"),
    ]
    steps = q("""select step, n_exposed, n_comparator from marts.fct_study_attrition
                 where cohort_id = 'pio_vs_nonusers' and outcome_id is null order by step""")
    assert steps == [(1, 8, 3)] + [(k, 7, 3) for k in range(2, 8)]


def test_itt_with_latency_and_max_followup(q):
    rows = q("""select patient_id, entry_date, exit_date, event, time_days, exit_reason
                from marts.fct_study_survival
                where cohort_id = 'pio_itt' and outcome_id = 'myocardial_infarction' order by 1""")
    assert rows == [
        (1, d("2019-03-31"), d("2019-10-17"), 0, 200, "max_followup"),
        (2, d("2019-07-01"), d("2019-07-01"), 1, 0, "event"),
        (6, d("2019-08-31"), d("2020-03-18"), 0, 200, "max_followup"),
        (7, d("2019-08-31"), d("2019-09-15"), 0, 15, "death"),
        (8, d("2019-03-03"), d("2019-09-19"), 0, 200, "max_followup"),
        (9, d("2019-02-09"), d("2019-04-10"), 0, 60, "trackloss"),
        (10, d("2019-02-04"), d("2019-08-23"), 0, 200, "max_followup"),
    ]
    steps = q("""select outcome_id, step, n_exposed, n_comparator from marts.fct_study_attrition
                 where cohort_id = 'pio_itt' and outcome_id is not null order by 1, 2""")
    assert steps == [
        ("dp:K35", 8, 4, 3),
        ("dp:K35", 9, 3, 3),
        ("dp:K35", 10, 3, 2),
        ("myocardial_infarction", 8, 5, 3),
        ("myocardial_infarction", 9, 5, 3),
        ("myocardial_infarction", 10, 5, 2),
    ]
    assert q("""select start_day, stop_day, event, cum_exposure_category
                from marts.fct_study_counting_process
                where cohort_id = 'pio_itt' and outcome_id = 'myocardial_infarction'
                and patient_id = 2""") == [(0, 0, 1, "<60 days")]


# fct_sccs_intervals of the series pio_sccs (tests/test_sccs_interaction.py checks them unchanged
# beside an interaction series)
SCCS_COLUMNS = "patient_id, interval_start, interval_end, days, window_id, age_group, calendar_year, events"
PIO_SCCS_INTERVALS = [
    # patient 1 (born June 1950): pioglitazone 1 March to 30 May 2019, bladder cancer 15 May
    (1, d("2018-01-05"), d("2019-01-01"), 361, 0, 0, 2018, 0),
    (1, d("2019-01-01"), d("2019-01-30"), 29, 0, 0, 2019, 0),
    (1, d("2019-01-30"), d("2019-03-01"), 30, -1, 0, 2019, 0),  # the 30 days before: pre-exposure
    (1, d("2019-03-01"), d("2019-03-31"), 30, 1, 0, 2019, 0),  # days 0-29
    (1, d("2019-03-31"), d("2019-05-31"), 61, 2, 0, 2019, 1),  # day 30 to the episode's end
    (1, d("2019-05-31"), d("2020-01-01"), 215, 0, 0, 2019, 0),
    (1, d("2020-01-01"), d("2020-06-01"), 152, 0, 0, 2020, 0),
    (1, d("2020-06-01"), d("2021-01-01"), 214, 0, 1, 2020, 0),  # aged 70 on 1 June 2020
    # patient 6: bladder cancer in January 2019, before a single month of pioglitazone in August
    (6, d("2018-01-05"), d("2019-01-01"), 361, 0, 0, 2018, 0),
    (6, d("2019-01-01"), d("2019-07-02"), 182, 0, 0, 2019, 1),
    (6, d("2019-07-02"), d("2019-08-01"), 30, -1, 0, 2019, 0),
    (6, d("2019-08-01"), d("2019-08-31"), 30, 1, 0, 2019, 0),  # window 2 is empty: the episode ends
    (6, d("2019-08-31"), d("2020-01-01"), 123, 0, 0, 2019, 0),
    (6, d("2020-01-01"), d("2021-01-01"), 366, 0, 1, 2020, 0),  # born 1950, month unknown: 1 January
    # patient 11: a case never exposed (C67 as principal diagnosis in May 2019; C671 as DR is not one)
    (11, d("2018-01-05"), d("2019-01-01"), 361, 0, 0, 2018, 0),
    (11, d("2019-01-01"), d("2020-01-01"), 365, 0, 0, 2019, 1),
    (11, d("2020-01-01"), d("2021-01-01"), 366, 0, 1, 2020, 0),
]


def test_sccs_intervals(q):
    """Each case's observation cut at its windows, its 70th birthday and each 1 January."""
    rows = q(f"select {SCCS_COLUMNS} from marts.fct_sccs_intervals where sccs_id = 'pio_sccs' "
             "order by patient_id, interval_start")
    assert rows == PIO_SCCS_INTERVALS


def test_sccs_conv_cases_and_starts(q):
    """The multi-drug series: the same cases, days counted from each case's first day, and every
    episode of pioglitazone (drug 0) and metformin (drug 1) that overlaps the observation."""
    first = d("2018-01-05")

    def day(text: str) -> int:
        return (d(text) - first).days

    def age(born: date) -> float:
        return round((first - born).days / 365.25, 2)

    cases = q("select patient_id, case_start, n_days, event_day, age_start from marts.fct_sccs_conv_cases "
              "where sccs_id = 'pio_sccs' order by patient_id")
    assert cases == [
        (1, first, day("2021-01-01"), day("2019-05-15"), age(date(1950, 6, 1))),
        (6, first, day("2021-01-01"), day("2019-01-20"), age(date(1950, 1, 1))),
        (11, first, day("2021-01-01"), day("2019-05-01"), age(date(1950, 1, 1))),
    ]
    starts = q("select patient_id, drug_id, start_day, end_day from marts.fct_sccs_conv_starts "
               "where sccs_id = 'pio_sccs' order by patient_id, drug_id, start_day")
    assert starts == [
        (1, 0, day("2019-03-01"), day("2019-05-31")),  # the episode of fct_sccs_intervals
        (1, 1, day("2018-02-01"), day("2018-04-02")),  # metformin: two 30-day packs, the early refill carried forward
        (6, 0, day("2019-08-01"), day("2019-08-31")),
    ]


def test_counting_process_splits_at_the_study_categories(q):
    """pio_itt's categories are < 60 and >= 60 days; its 30 days of latency count (exposed
    from index): an exposure that lasts reaches 60 days on day 30 after entry, patient 6's 30
    days never do, and the comparator's own episodes count for them."""
    rows = q("""select patient_id, start_day, stop_day, event, cum_exposure_days, cum_exposure_category_number,
                       cum_exposure_category
                from marts.fct_study_counting_process
                where cohort_id = 'pio_itt' and outcome_id = 'myocardial_infarction' order by 1, 2""")
    assert rows == [
        (1, 0, 30, 0, 30, 0, "<60 days"),
        (1, 30, 200, 0, 60, 1, ">=60 days"),
        (2, 0, 0, 1, 30, 0, "<60 days"),
        (6, 0, 200, 0, 30, 0, "<60 days"),
        (7, 0, 15, 0, 30, 0, "<60 days"),
        (8, 0, 30, 0, 30, 0, "<60 days"),
        (8, 30, 200, 0, 60, 1, ">=60 days"),
        (9, 0, 30, 0, 30, 0, "<60 days"),
        (9, 30, 60, 0, 60, 1, ">=60 days"),
        (10, 0, 30, 0, 30, 0, "<60 days"),
        (10, 30, 200, 0, 60, 1, ">=60 days"),
    ]
