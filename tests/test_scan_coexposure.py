"""Joint exposure of two drugs (scan_ddi_coexposure, scan_ddi_pair_time; issue 25) on the scan's mini-extract
(tests/test_scan_counts.py) plus four patients taking both drugs, A = C10AA05 and B = N05BA12,
one 30-day pack each unless said:

patient  A                               B            joint exposure
P10      2016-02-01                      2016-02-11   [02-11, 03-02): 20 days (2016 is leap)
P11      2016-05-01                      2016-05-31   none: A ends the day B starts (touching)
P12      2016-07-01                      2016-09-01   none: a gap
P13      2016-10-01, 2016-10-31 (one     2016-11-10   [11-10, 11-30): 20 days
         episode to 11-30)
The mini-extract's own patients never take both.
"""

from __future__ import annotations

import json
from datetime import date

import sqlalchemy as sa
from test_scan_counts import insert_mini_extract
from veille import db
from veille.dbt import run_dbt
from veille.scan.settings import ScanSettings

EXTRA = {10: (("2016-02-01", "A"), ("2016-02-11", "B")), 11: (("2016-05-01", "A"), ("2016-05-31", "B")),
         12: (("2016-07-01", "A"), ("2016-09-01", "B")),
         13: (("2016-10-01", "A"), ("2016-10-31", "A"), ("2016-11-10", "B"))}
CIP = {"A": "3400900000001", "B": "3400900000002"}


def insert_patient(conn, pid: int, sex: int, birth_year: int, fills) -> None:
    """A patient observed every month of 2015-2018 with one-pack fills (day, drug A or B)."""
    conn.execute(sa.text(
        "insert into claims.patient (patient_id, ben_nir_psa, ben_rng_gem, sex, birth_year)"
        " overriding system value values (:p, :nir, 1, :s, :b)"),
        {"p": pid, "nir": f"NIR{pid:014d}", "s": sex, "b": birth_year})
    conn.execute(sa.text(
        "insert into claims.service_line (patient_id, service_date, nature_code, flow_month, batch_id)"
        " select :p, d::date, 1111, date_trunc('month', d)::date, 1 from (select generate_series("
        "'2015-01-01'::date, '2018-12-01', interval '1 month') union all select '2018-12-31'::date)"
        " as days (d)"), {"p": pid})
    for day, drug in fills:
        conn.execute(sa.text(
            "insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month,"
            " batch_id) values (:p, :d, :c, 1, date_trunc('month', :d ::date), 1)"),
            {"p": pid, "d": day, "c": CIP[drug]})


def _insert_coexposed() -> None:
    with db.engine().begin() as conn:
        for pid, fills in EXTRA.items():
            insert_patient(conn, pid, 1, 1950, fills)


def _build(min_patients: int) -> list[tuple]:
    variables = ScanSettings(min_events=1, latency_days=10).dbt_vars() | {"scan_ddi_min_patients": min_patients}
    run_dbt(["build", "--select", "+scan_ddi_pair_time", "--resource-type", "model", "--resource-type", "seed",
             "--resource-type", "test", "--quiet", "--vars", json.dumps(variables)])
    with db.engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "select drug_level, drug_a, drug_b, patient_id, joint_start, joint_end, joint_days"
            " from scan.scan_ddi_coexposure order by 1, 4"))]


def test_joint_exposure_overlaps_only(migrated_db):
    insert_mini_extract()
    _insert_coexposed()
    D = date
    assert _build(2) == [
        ("atc5", "C10AA", "N05BA", 10, D(2016, 2, 11), D(2016, 3, 2), 20),
        ("atc5", "C10AA", "N05BA", 13, D(2016, 11, 10), D(2016, 11, 30), 20),
        ("atc7", "C10AA05", "N05BA12", 10, D(2016, 2, 11), D(2016, 3, 2), 20),
        ("atc7", "C10AA05", "N05BA12", 13, D(2016, 11, 10), D(2016, 11, 30), 20),
    ]
    # the joint person-time by stratum: both men born in 1950, age band (2016 - 1950) / 5 = 13
    with db.engine().connect() as conn:
        strata = [tuple(r) for r in conn.execute(sa.text(
            "select drug_level, drug_a, drug_b, calendar_year, age_band, sex, joint_days"
            " from scan.scan_ddi_pair_time order by 1"))]
    assert strata == [("atc5", "C10AA", "N05BA", 2016, 13, 1, 40), ("atc7", "C10AA05", "N05BA12", 2016, 13, 1, 40)]
    # two co-users: the pair is left out when it needs three
    assert _build(3) == []
