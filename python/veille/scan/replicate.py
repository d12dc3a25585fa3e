"""Grow a loaded database k-fold by copying its patients (benchmarks only).

Copy j (1..k-1) of a patient gets id + j x offset, a pseudonym (and stays an RSA number)
made from that new id, and the same claims
(dispensings, service lines, acts, lab tests, ALD, stays with their diagnoses and acts). Every
count the scan makes then grows k-fold with the same dates and codes: a controlled way to time
the screen at several sizes from one generated extract.
"""

from __future__ import annotations

from veille import db

PATIENT_TABLES = {  # table: columns copied (patient_id and identity keys handled apart)
    "dispensing": "dispensing_date, cip13, packs, prescriber_id, pharmacy_id, amount_paid, "
                  "amount_reimbursed, flow_month, batch_id",
    "service_line": "service_date, end_date, nature_code, quantity, provider_id, provider_specialty, "
                    "prescriber_id, facility_id, amount_paid, amount_reimbursed, flow_month, batch_id",
    "medical_act": "act_date, ccam_code, provider_id, flow_month, batch_id",
    "lab_test": "test_date, nabm_code, quantity, provider_id, prescriber_id, flow_month, batch_id",
    "ald": "ald_number, icd10, start_date, end_date, batch_id",
}


CHANGE_SOURCES = ("dispensing", "service_line", "medical_act", "lab_test", "hospital_stay", "ald", "death", "patient")


def replicate(factor: int) -> None:
    """Make ``factor`` copies in all of the current patients (the originals included)."""
    if factor <= 1:
        return
    with db.raw_connection() as conn:
        p_off = conn.execute("select coalesce(max(patient_id), 0) from claims.patient").fetchone()[0]
        s_off = conn.execute("select coalesce(max(stay_id), 0) from claims.hospital_stay").fetchone()[0]
        copies = f"generate_series(1, {factor - 1}) as copy (j)"
        conn.execute(
            "insert into claims.patient (patient_id, ben_nir_psa, ben_rng_gem, sex, birth_year,"
            " birth_month, death_date, residence_dpt, rights_date) overriding system value"
            f" select patient_id + j * {p_off}, 'R~' || lpad((patient_id + j * {p_off})::text, 15, '0'), ben_rng_gem,"
            f" sex, birth_year, birth_month, death_date, residence_dpt, rights_date"
            f" from claims.patient cross join {copies} where patient_id <= {p_off}")
        for table, cols in PATIENT_TABLES.items():
            conn.execute(
                f"insert into claims.{table} (patient_id, {cols}) select patient_id + j * {p_off},"
                f" {cols} from claims.{table} cross join {copies} where patient_id <= {p_off}")
        conn.execute(
            "insert into claims.hospital_stay (stay_id, facility_id, rsa_num, pmsi_year, patient_id,"
            " admission_date, discharge_date, ghm, los_days, stay_type, entry_mode, exit_mode,"
            " batch_id) overriding system value"
            f" select stay_id + j * {s_off}, facility_id, 'R~' || (stay_id + j * {s_off}), pmsi_year,"
            f" patient_id + j * {p_off}, admission_date, discharge_date, ghm, los_days, stay_type,"
            " entry_mode, exit_mode, batch_id"
            f" from claims.hospital_stay cross join {copies} where stay_id <= {s_off}")
        conn.execute(
            f"insert into claims.stay_diagnosis (stay_id, icd10, role) select stay_id + j * {s_off},"
            f" icd10, role from claims.stay_diagnosis cross join {copies} where stay_id <= {s_off}")
        conn.execute(
            f"insert into claims.stay_act (stay_id, ccam_code, act_date) select stay_id + j * {s_off},"
            f" ccam_code, act_date from claims.stay_act cross join {copies} where stay_id <= {s_off}")
        # a load like any other for the incremental models (docs/refresh.md): each copy changed
        # from his first day, in every source
        run_id = conn.execute("insert into meta.load_run (extract_dir, status, finished_at) "
                              "values (%s, 'done', now()) returning run_id", (f"replicate x{factor}",)).fetchone()[0]
        conn.execute(
            "insert into meta.load_change (run_id, patient_id, source, first_date)"
            " select %s, patient_id, source, '-infinity'::date from claims.patient"
            f" cross join unnest(array[{', '.join(repr(s) for s in CHANGE_SOURCES)}]) as sources (source)"
            f" where patient_id > {p_off}", (run_id,))
        conn.commit()
        conn.autocommit = True
        conn.execute("analyze")
