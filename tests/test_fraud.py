"""Fraud sweep on a hand-written mini-extract, swept month by month with `scan_month`:
exact doctor-shopping quantities, each hard rule, and an alert history where a month scanned
after another changes only that month's alerts.

Drugs (30 units, 30 days a pack): BENZO N05BA12, OPIOID N02AX02, STATIN C10AA01.
Prescribers P1, P2, P3 (GPs); pharmacies H1..H4; G1, G2 cardiologists billing consultations.

January flow:
  patient 1  BENZO 01-01 P1/H1, 01-11 P2/H2, 01-21 P1/H3: the 2nd overlaps the 1st by 20 days
             (other prescriber), the 3rd overlaps the 2nd by 20 days -> 40 shopping units of 90,
             2 prescribers, 3 pharmacies: a doctor shopper (share 0.4444)
  patient 2  BENZO 01-01, 01-11, 01-21 all from P1 in H1, H2, H3: overlaps, same prescriber: none
  patient 3  OPIOID 01-05 P1/H1, 01-25 P2/H2: 10 days overlap -> 10 units of 60, 2 pharmacies only
  patient 5  died 2020-01-05; STATIN 01-10 P3/H4: claims after death (H4, not the prescriber P3)
  patient 6  G1 bills 50 consultations on 01-20 (12.5 hours), G2 48 (12 hours, not beyond)
  patient 7  BENZO 4 x 4 packs in January from P1/H1 (480 days: beyond 365); patient 8 3 x 4 (360)
February flow: patient 4 STATIN 02-02; G1 50 consultations on 02-18; H3 STATIN to patient 5.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from conftest import scratch_database
from veille import db
from veille.dbt import run_dbt

BENZO, OPIOID, STATIN = "3400000000101", "3400000000102", "3400000000103"
DRUGS = [(BENZO, "N05BA12"), (OPIOID, "N02AX02"), (STATIN, "C10AA01")]
PROVIDERS = [("P1", "professional", "1"), ("P2", "professional", "1"), ("P3", "professional", "1"),
             ("G1", "professional", "3"), ("G2", "professional", "3"), ("H1", "pharmacy", None),
             ("H2", "pharmacy", None), ("H3", "pharmacy", None), ("H4", "pharmacy", None)]
DEATHS = {5: date(2020, 1, 5)}

JANUARY = [
    (1, "2020-01-01", BENZO, "P1", "H1"), (1, "2020-01-11", BENZO, "P2", "H2"),
    (1, "2020-01-21", BENZO, "P1", "H3"),
    (2, "2020-01-01", BENZO, "P1", "H1"), (2, "2020-01-11", BENZO, "P1", "H2"),
    (2, "2020-01-21", BENZO, "P1", "H3"),
    (3, "2020-01-05", OPIOID, "P1", "H1"), (3, "2020-01-25", OPIOID, "P2", "H2"),
    (5, "2020-01-10", STATIN, "P3", "H4"),
    *[(7, f"2020-01-{d:02d}", BENZO, "P1", "H1", 4) for d in (2, 9, 16, 23)],
    *[(8, f"2020-01-{d:02d}", BENZO, "P1", "H1", 4) for d in (2, 12, 22)],
]
FEBRUARY = [(4, "2020-02-02", STATIN, "P1", "H1"), (5, "2020-02-10", STATIN, "P3", "H3")]
JANUARY_VISITS = [("G1", "2020-01-20", 50), ("G2", "2020-01-20", 48)]
FEBRUARY_VISITS = [("G1", "2020-02-18", 50)]
RULE_SCORE = 20.693147  # 20 + ln(1 + 1 hit)


def _dispensings(rows) -> str:
    values = ", ".join(
        f"({p}, date '{d}', '{c}', {packs[0] if packs else 1}, '{pre}', '{ph}',"
        f" date_trunc('month', date '{d}')::date, 1)"
        for p, d, c, pre, ph, *packs in rows
    )
    return ("insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, prescriber_id,"
            f" pharmacy_id, flow_month, batch_id) values {values}")


def _visits(rows) -> str:
    return "; ".join(
        "insert into claims.service_line (patient_id, service_date, nature_code, provider_id,"
        f" provider_specialty, flow_month, batch_id) select 6, date '{d}', 1111, '{g}', '3',"
        f" date_trunc('month', date '{d}')::date, 1 from generate_series(1, {n})"
        for g, d, n in rows
    )


def _setup_statements() -> list[str]:
    out = [
        """insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read,
               rows_loaded, rows_rejected, started_at, finished_at, seconds)
           values ('x', 'x', 'x', repeat('0', 64), 0, 0, 0, now(), now(), 0)""",
        "insert into ref.drug (cip13, atc7, pack_type, units_per_pack) values "
        + ", ".join(f"('{c}', '{a}', 'NGC', 30)" for c, a in DRUGS),
        "insert into claims.provider (provider_id, kind, specialty) values "
        + ", ".join(f"('{i}', '{k}', {repr(s) if s else 'null'})" for i, k, s in PROVIDERS),
    ]
    for pid in range(1, 9):
        death = f"date '{DEATHS[pid]}'" if pid in DEATHS else "null"
        out.append("insert into claims.patient (patient_id, ben_nir_psa, ben_rng_gem, sex, birth_year,"
                   f" residence_dpt, death_date) overriding system value values ({pid}, 'NIR{pid}', 1, 1,"
                   f" 1950, '075', {death})")
    return out


def _exec(*statements: str) -> None:
    with db.engine().begin() as conn:
        for s in statements:
            for part in s.split("; "):
                conn.execute(sa.text(part))


def _rows(sql: str) -> list[tuple]:
    with db.engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


ALERTS = ("select to_char(month, 'YYYY-MM'), entity_kind, entity_id, alert_kind, round(score::numeric, 6)::float,"
          " alert_rank, status from results.fraud_alert order by month, alert_rank nulls last, entity_id")


@pytest.fixture(scope="module")
def mini(pg_server):
    """The mini-extract swept month by month; yields the alerts seen after each scan."""
    from veille.fraud.settings import SweepSettings
    from veille.fraud.sweep import scan_month

    with scratch_database("t_fraud_" + uuid.uuid4().hex[:8], migrated=True):
        _exec(*_setup_statements(), _dispensings(JANUARY), _visits(JANUARY_VISITS))
        run_dbt(["build", "--quiet", "--select", "+tag:fraud", "--exclude", "tag:fraud",
                 "--resource-type", "seed", "--resource-type", "model"])
        # patient 1 shops with 2 overlapping dispensings: alerted at a threshold of 2, and
        # not at the default of 3 (checked last, on January again)
        two = SweepSettings(shopping_min_overlapping=2)
        seen = {"january": scan_month(date(2020, 1, 1), two)}
        seen["alerts_after_january"] = _rows(ALERTS)
        seen["shopper_reasons"] = _rows("select reasons from results.fraud_alert where entity_id = '1'")
        # 90 days supplied in 50 (x 1.8): not enough for a threshold of 2
        seen["january_strict"] = scan_month(date(2020, 1, 1), SweepSettings(
            shopping_min_overlapping=2, shopping_supply_ratio=2.0))
        seen["alerts_january_strict"] = [r[2] for r in _rows(ALERTS)]
        scan_month(date(2020, 1, 1), two)
        _exec(_dispensings(FEBRUARY), _visits(FEBRUARY_VISITS))
        seen["february"] = scan_month(date(2020, 2, 1), two)
        seen["alerts"] = _rows(ALERTS)
        seen["january_default"] = scan_month(date(2020, 1, 1))
        seen["alerts_january_default"] = _rows(ALERTS.replace("order by", "where month = '2020-01-01' order by"))
        yield seen


def test_doctor_shopping_quantities_per_dispensing(mini):
    rows = _rows("select patient_id, dispensing_date::text, overlap_days, shopping_units::float"
                 " from fraud.fraud_shopping_dispensings where shopping_units > 0 order by 1, 2")
    assert rows == [(1, "2020-01-11", 20, 20.0), (1, "2020-01-21", 20, 20.0), (3, "2020-01-25", 10, 10.0)]
    assert _rows("select count(*) from fraud.fraud_shopping_dispensings") == [(len(JANUARY + FEBRUARY),)]


def test_doctor_shoppers_with_their_evidence(mini):
    rows = _rows(
        "select to_char(month, 'YYYY-MM'), patient_id, drug_code, n_dispensings, n_overlapping, n_prescribers,"
        " n_pharmacies, total_units::float, shopping_units::float, shopping_share::float, is_shopper,"
        " prescriber_ids, pharmacy_ids, supply_days, span_days, supply_ratio::float"
        " from fraud.fraud_shopping_patients order by 1, 2"
    )
    assert rows == [
        # 90 days supplied from 01-01 to 01-21 + 30 days: 50 days
        ("2020-01", 1, "N05BA12", 3, 2, 2, 3, 90.0, 40.0, 0.4444, True, ["P1", "P2"], ["H1", "H2", "H3"],
         90, 50, 1.8),
        ("2020-01", 3, "N02AX02", 2, 1, 2, 2, 60.0, 10.0, 0.1667, False, ["P1", "P2"], ["H1", "H2"],
         60, 50, 1.2),
    ]


def test_drugs_ranked_by_shopping_share(mini):
    rows = _rows("select drug_rank::int, drug_code, total_units::float, shopping_units::float,"
                 " shopping_share::float from fraud.fraud_drug_shopping order by drug_rank")
    assert rows == [(1, "N02AX02", 60.0, 10.0, 0.16667), (2, "N05BA12", 1020.0, 40.0, 0.03922),
                    (3, "C10AA01", 90.0, 0.0, 0.0)]


def test_hard_rules(mini):
    rows = _rows("select to_char(month, 'YYYY-MM'), rule, entity_kind, entity_id, hits, n_patients, measure,"
                 " evidence from fraud.fraud_rule_hits order by 1, 2, 4")
    assert rows == [
        ("2020-01", "claims_after_death", "provider", "H4", 1, 1, 5.0,
         "1 lines dated after the patient's death (1 patients, up to 5 days after)"),
        ("2020-01", "hours_beyond_day", "provider", "G1", 1, 1, 12.5,
         "1 days above 12 hours of billed work (busiest: 12.5 hours, 50 lines)"),
        ("2020-01", "supply_beyond_dates", "patient", "7", 1, 1, 480.0,
         "N05BA12: 480 days in 4 dispensings within one month"),
        ("2020-02", "claims_after_death", "provider", "H3", 1, 1, 36.0,
         "1 lines dated after the patient's death (1 patients, up to 36 days after)"),
        ("2020-02", "hours_beyond_day", "provider", "G1", 1, 1, 12.5,
         "1 days above 12 hours of billed work (busiest: 12.5 hours, 50 lines)"),
    ]


CLASS_SCORES = ("select to_char(month, 'YYYY-MM'), prescriber_id, drug_class, observed, prescriber_total,"
                " expected::float, dispersion::float, poisson_z::float, shrunk_ratio::float"
                " from fraud.fraud_prescriber_class_scores order by 1, 2, 3")


def test_prescriber_class_excess_counts_patients_once_per_window(mini):
    """12-month windows ending in January and February 2020. P1's patients: 1, 2, 3, 7, 8 in
    January (four on BENZO), then patient 4 in February: 6 patients (14 dispensings). P3's
    patient 5 has STATIN in both months: one patient in the February window."""
    expected = [
        # January: specialty 1 has 5 + 2 + 1 = 8 patients; BENZO 5 of them (share 5/8), OPIOID 2,
        # STATIN 1; dispersion of STATIN (1 - 1/8)^2 / (1/8) = 6.125 over the median of a
        # chi-square with 1 degree of freedom, 0.4549: 13.464
        # the pooled controlled drugs (BENZO or OPIOID, a patient once): 7 of the 8, P1's 5
        # against 5 x 7/8 = 4.375, z 0.625 / sqrt(4.375), ratio (5 + 5) / (4.375 + 5); P2's 2
        # against 1.75
        ("2020-01", "P1", "N05BA", 4, 5, 3.125, 1.0, 0.495, 1.1077),
        ("2020-01", "P1", "controlled", 5, 5, 4.375, 1.0, 0.299, 1.0667),
        ("2020-01", "P2", "N02AX", 1, 2, 0.5, 1.0, 0.707, 1.0909),
        ("2020-01", "P2", "controlled", 2, 2, 1.75, 1.0, 0.189, 1.037),
        ("2020-01", "P3", "C10AA", 1, 1, 0.125, 13.464, 0.674, 1.1707),
        # February: 6 + 2 + 1 = 9 patients; STATIN 2 of them (patients 4 and 5); controlled 7.
        # STATIN's dispersion: the median of P3's (1 - 2/9)^2 / (2/9) = 2.7222 and P1's
        # (1 - 12/9)^2 / (12/9) = 0.0833 (below expectation, but a peer), 1.4028, / 0.4549
        ("2020-02", "P1", "N05BA", 4, 6, 3.333, 1.0, 0.365, 1.08),
        ("2020-02", "P1", "controlled", 5, 6, 4.667, 1.0, 0.154, 1.0345),
        ("2020-02", "P2", "N02AX", 1, 2, 0.444, 1.0, 0.833, 1.102),
        ("2020-02", "P2", "controlled", 2, 2, 1.556, 1.0, 0.356, 1.0678),
        ("2020-02", "P3", "C10AA", 1, 1, 0.222, 3.084, 0.94, 1.1489),
    ]
    assert _rows(CLASS_SCORES) == expected
    # the full sweep (every month at once, windows from runs of months) gives the same rows
    run_dbt(["run", "--quiet", "--full-refresh", "--select", "fraud_prescriber_class_patients",
             "fraud_prescriber_class_scores"])
    assert _rows(CLASS_SCORES) == expected


def test_class_excess_windows_merge_months_less_than_a_window_apart(mini):
    """Prescriber W1 (no specialty): patient 101 in 2019-01, 2019-12 (11 months later: one run)
    and 2021-01 (13 months later: a new run), patient 102 in 2019-06; W2's patient 201 in every
    swept month. Windows of 12 flow months ending at each month present."""
    rows = [("2019-01-01", "W1", "X0000", 101), ("2019-12-01", "W1", "X0000", 101),
            ("2021-01-01", "W1", "X0000", 101), ("2019-06-01", "W1", "X0000", 102)]
    rows += [(m, "W2", "Y0000", 201) for m in ("2019-01-01", "2019-06-01", "2019-12-01", "2020-01-01",
                                                "2020-02-01", "2021-01-01")]
    query = ("select to_char(month, 'YYYY-MM'), observed, prescriber_total from fraud.fraud_prescriber_class_scores"
             " where prescriber_id = 'W1' order by 1")
    _exec(_insert("fraud.fraud_prescriber_class_patients", ("month", "prescriber_id", "drug_class", "patient_id"),
                  rows))
    try:
        run_dbt(["run", "--quiet", "--full-refresh", "--select", "fraud_prescriber_class_scores"])
        full = _rows(query)
        run_dbt(["run", "--quiet", "--select", "fraud_prescriber_class_scores", "--vars", '{"fraud_month": "2021-01"}'])
        single = _rows(query)
    finally:
        _exec("delete from fraud.fraud_prescriber_class_patients where prescriber_id in ('W1', 'W2')")
        run_dbt(["run", "--quiet", "--full-refresh", "--select", "fraud_prescriber_class_scores"])
    # 2019-12: 101 once (two months of one run) + 102; 2020-02: 2019-03..2020-02 still holds
    # 101's 2019-12 and 102's 2019-06; 2021-01: 2020-02..2021-01 holds only 101's new run
    assert full == [("2019-01", 1, 1), ("2019-06", 2, 2), ("2019-12", 2, 2), ("2020-01", 2, 2),
                    ("2020-02", 2, 2), ("2021-01", 1, 1)]
    assert single == full


def test_scan_of_a_base_swept_by_an_older_version_asks_for_a_full_sweep(mini):
    from veille.errors import VeilleError
    from veille.fraud.sweep import scan_month

    _exec("alter table fraud.fraud_prescriber_class_patients rename to fraud_prescriber_class_old")
    try:
        with pytest.raises(VeilleError, match=r"^the fraud models were built by an older version: run "
                                              r"`veille fraud sweep` once \(it rebuilds every month\), "
                                              r"then scan months one by one$"):
            scan_month(date(2020, 2, 1))
    finally:
        _exec("alter table fraud.fraud_prescriber_class_old rename to fraud_prescriber_class_patients")


def test_alert_history_month_by_month(mini):
    assert (mini["january"], mini["february"]) == (4, 2)
    rule = round(RULE_SCORE, 6)
    assert [r[:7] for r in mini["alerts"]] == [
        ("2020-01", "patient", "7", "supply_beyond_dates", pytest.approx(rule), 1, "new"),
        ("2020-01", "provider", "G1", "hours_beyond_day", pytest.approx(rule), 2, "new"),
        ("2020-01", "provider", "H4", "claims_after_death", pytest.approx(rule), 3, "new"),
        ("2020-01", "patient", "1", "doctor_shopping", pytest.approx(14.444), 4, "new"),
        ("2020-02", "provider", "G1", "hours_beyond_day", pytest.approx(rule), 1, "persisting"),
        ("2020-02", "provider", "H3", "claims_after_death", pytest.approx(rule), 2, "new"),
        ("2020-02", "patient", "1", "doctor_shopping", None, None, "resolved"),
        ("2020-02", "patient", "7", "supply_beyond_dates", None, None, "resolved"),
        ("2020-02", "provider", "H4", "claims_after_death", None, None, "resolved"),
    ]


def test_shoppers_need_three_overlapping_dispensings_by_default(mini):
    assert mini["january_default"] == 3
    assert [r[2:4] for r in mini["alerts_january_default"]] == [
        ("7", "supply_beyond_dates"), ("G1", "hours_beyond_day"), ("H4", "claims_after_death")]


def test_shoppers_need_more_supply_than_they_can_take(mini):
    reason = ("doctor_shopping: N05BA12 from 2 prescribers in 3 pharmacies, 2 overlapping dispensings, "
              "44.4% of 90 units obtained by shopping, 90 days supplied in 50 days (x1.8)")
    assert mini["shopper_reasons"] == [(reason,)]
    assert mini["january_strict"] == mini["january"] - 1
    assert "1" not in mini["alerts_january_strict"]


def test_a_later_month_changes_only_its_own_alerts(mini):
    january = [r for r in mini["alerts"] if r[0] == "2020-01"]
    assert january == mini["alerts_after_january"]


def test_scan_of_a_month_without_claims_says_so(mini):
    from veille.errors import VeilleError
    from veille.fraud.sweep import scan_month

    with pytest.raises(VeilleError, match=r"^no claims in flow month 2021-05: load it first \(`veille load`\)$"):
        scan_month(date(2021, 5, 1))


def test_month_must_be_year_and_month():
    from veille.errors import VeilleError
    from veille.fraud.settings import parse_month

    assert parse_month("2020-02") == date(2020, 2, 1)
    with pytest.raises(VeilleError, match=r"^month must be YYYY-MM, got '2020-13'$"):
        parse_month("2020-13")


def test_counts_in_alert_reasons_are_masked():
    from veille.fraud.report import mask_text

    assert mask_text("12 lines dated after the patient's death (3 patients, up to 40 days after)") == (
        "12 lines dated after the patient's death (<10 patients, up to 40 days after)"
    )


def _insert(table: str, columns: tuple[str, ...], rows: list[tuple]) -> str:
    values = ", ".join("(" + ", ".join(repr(v) if isinstance(v, str) else str(v) for v in r) + ")" for r in rows)
    return f"insert into {table} ({', '.join(columns)}) values {values}"


def test_peer_scores_shrink_small_shares_and_floor_rare_counts(mini):
    """Six GPs of one made-up peer group in June 2021: Q6 has 2 controlled lines of 4 (share 0.5
    against a peer median of 0.03) and 4 same-day duplicates (peers 0, 0, 0, 0, 1)."""
    shares = {"Q1": (100, 2, 0), "Q2": (100, 3, 0), "Q3": (100, 3, 0), "Q4": (100, 3, 0), "Q5": (100, 4, 1),
              "Q6": (4, 2, 4)}
    cols = ("month", "provider_id", "peer_group", "n_drug_lines", "n_controlled_lines", "controlled_line_share",
            "same_day_duplicates")
    rows = [("2021-06-01", p, "professional:9", n, k, round(k / n, 4), dup) for p, (n, k, dup) in shares.items()]
    _exec(_insert("fraud.fraud_provider_features", cols, rows))
    try:
        run_dbt(["run", "--quiet", "--select", "fraud_provider_peer_scores", "--vars", '{"fraud_month": "2021-06"}'])
        got = _rows("select provider_id, feature, round(robust_z::numeric, 3)::float from"
                    " fraud.fraud_provider_peer_scores where peer_group = 'professional:9'"
                    " and provider_id in ('Q5', 'Q6') order by 1, 2")
    finally:
        _exec("delete from fraud.fraud_provider_features where peer_group = 'professional:9'",
              "delete from fraud.fraud_provider_peer_scores where peer_group = 'professional:9'")
    # Q6's share is shrunk by 5 pseudo-lines at the median, (2 + 5 x 0.03) / 9 = 0.2389, over the
    # binomial spread of 9 lines at 0.03, sqrt(0.03 x 0.97 / 9) = 0.0569: z 3.674 (15.7 unshrunk over the 3-point floor);
    # Q5's 4 of 100, (4 + 0.15) / 105 = 0.0395, is within the 3-point floor: z 0.317. The
    # duplicates' floor is the Poisson spread at the peers' mean 5/6: 4 / sqrt(1 + 5/6) = 2.954 (Q5: 0.739).
    assert got == [("Q5", "controlled_line_share", 0.317), ("Q5", "same_day_duplicates", 0.739),
                   ("Q6", "controlled_line_share", 3.674), ("Q6", "same_day_duplicates", 2.954)]


def test_persistent_outliers_stand_out_from_their_peers_persistent_spread(mini):
    """Seven providers' n_lines z-scores over 12 months of 2022, constant within each: R6 is 2.5
    every month (a large practice; mean z x sqrt(12) = 8.7 would alert), R7 7.9 (below the
    monthly alert, 8)."""
    from veille.fraud.settings import SweepSettings
    from veille.fraud.sweep import score_month

    mean_z = {"R1": -2, "R2": -1, "R3": 0, "R4": 0.5, "R5": 1, "R6": 2.5, "R7": 7.9}
    cols = ("month", "provider_id", "peer_group", "feature", "value", "n_peers", "median", "mad", "robust_z")
    rows = [(f"2022-{m:02d}-01", p, "professional:9", "n_lines", 100 + 10 * z, 7, 100, 10, z)
            for m in range(1, 13) for p, z in mean_z.items()]
    _exec(_insert("fraud.fraud_provider_peer_scores", cols, rows))
    try:
        with db.engine().begin() as conn:
            score_month(conn, date(2022, 12, 1), SweepSettings(persistent_z=3))
        got = _rows("select entity_id, alert_kind, round(score::numeric, 3)::float, reasons from results.fraud_alert"
                    " where month = '2022-12-01' order by alert_rank")
    finally:
        _exec("delete from fraud.fraud_provider_peer_scores where peer_group = 'professional:9'",
              "delete from results.fraud_alert where month = '2022-12-01'",
              "delete from results.fraud_sweep where month = '2022-12-01'")
    # peers' mean z: median 0.5, MAD 1.5 -> scale 2.224; R7 (7.9 - 0.5) / 2.224 = 3.327, R6 0.899
    assert got == [("R7", "persistent_outlier", 3.327,
                    ("persistent_outlier: n_lines 179.00 vs peer median 100.00 on average over 12 months"
                     " (mean z 7.9, persistence z 3.3)"))]


def test_pooled_controlled_drugs_alert_at_their_own_thresholds(mini):
    """Four rows of class scores in a month of their own: a pooled excess at z 3.9 and ratio
    1.75 alerts (thresholds 3.5 and 1.5), the same figures for one ATC5 do not (4 and 2), and
    neither does a pooled excess below the ratio or below the z."""
    from veille.fraud.settings import SweepSettings
    from veille.fraud.sweep import score_month

    cols = ("month", "prescriber_id", "specialty", "drug_class", "observed", "prescriber_total", "expected",
            "dispersion", "poisson_z", "shrunk_ratio")
    rows = [("2021-07-01", "Z1", "1", "controlled", 30, 200, 15.0, 1.0, 3.873, 1.75),
            ("2021-07-01", "Z2", "1", "N05BA", 30, 200, 15.0, 1.0, 3.873, 1.75),
            ("2021-07-01", "Z3", "1", "controlled", 24, 200, 15.0, 1.0, 3.6, 1.45),
            ("2021-07-01", "Z4", "1", "controlled", 28, 200, 15.0, 1.2, 3.4, 1.65)]
    _exec(_insert("fraud.fraud_prescriber_class_scores", cols, rows))
    try:
        with db.engine().begin() as conn:
            n = score_month(conn, date(2021, 7, 1), SweepSettings())
        got = _rows("select entity_id, alert_kind, score, reasons from results.fraud_alert"
                    " where month = '2021-07-01'")
    finally:
        _exec("delete from fraud.fraud_prescriber_class_scores where month = '2021-07-01'",
              "delete from results.fraud_alert where month = '2021-07-01'",
              "delete from results.fraud_sweep where month = '2021-07-01'")
    assert n == 1
    reason = ("class_excess: controlled 30 patients (of 200 patients) vs 15.0 expected from specialty 1"
              " peers (ratio 1.75, z 3.9)")
    assert got == [("Z1", "class_excess", 3.873, reason)]
