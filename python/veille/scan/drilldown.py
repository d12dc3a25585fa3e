"""Drill-down counts of selected signals, counted in SQL from the scan marts:
new outcomes by month since initiation (sequence-symmetry sample), and the exposed new
outcomes by age band and sex."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from veille import db
from veille.marts import SparkMarts, check_target, stage

PAIRS_CTE = """
with pairs (drug_level, drug_code, outcome_level, outcome_code) as (
    select * from unnest(cast(:dl as text[]), cast(:dc as text[]), cast(:ol as text[]), cast(:oc as text[]))
)
"""

BY_MONTH = PAIRS_CTE + """
select pairs.drug_level, pairs.drug_code, pairs.outcome_level, pairs.outcome_code,
       floor((o.onset_date - i.initiation_date) / 30.4375)::int as month, count(*) as n
from pairs
join scan.scan_drug_initiations i on i.drug_level = pairs.drug_level and i.drug_code = pairs.drug_code
join scan.scan_outcome_onsets o on o.patient_id = i.patient_id
    and o.outcome_level = pairs.outcome_level and o.outcome_code = pairs.outcome_code
where o.onset_date <> i.initiation_date and abs(o.onset_date - i.initiation_date) <= :window
group by 1, 2, 3, 4, 5
order by 1, 2, 3, 4, 5
"""

EXPOSED = PAIRS_CTE + """
select pairs.drug_level, pairs.drug_code, pairs.outcome_level, pairs.outcome_code,
       case when w.birth_year is null then 'unknown'
            when extract(year from o.onset_date) - w.birth_year < 18 then '0-17'
            when extract(year from o.onset_date) - w.birth_year < 45 then '18-44'
            when extract(year from o.onset_date) - w.birth_year < 65 then '45-64'
            when extract(year from o.onset_date) - w.birth_year < 80 then '65-79'
            else '80+' end as age_group,
       case w.sex when 1 then 'male' when 2 then 'female' else 'unknown' end as sex,
       count(*) as n
from pairs
join scan.scan_drug_episodes e on e.drug_level = pairs.drug_level and e.drug_code = pairs.drug_code
join scan.scan_outcome_onsets o on o.patient_id = e.patient_id
    and o.outcome_level = pairs.outcome_level and o.outcome_code = pairs.outcome_code
    and o.onset_date >= e.exposed_start and o.onset_date < e.exposed_end
join scan.scan_patient_windows w on w.patient_id = o.patient_id
group by 1, 2, 3, 4, 5, 6
order by 1, 2, 3, 4, 5, 6
"""


def _stage_spark_rows(conn: sa.Connection, pairs: pd.DataFrame) -> None:
    """The rows of the four scan marts the counts read, for these pairs' drugs and outcomes,
    from the Spark tables into temporary tables of this session (veille.marts.stage)."""
    marts = SparkMarts()
    drugs, outcomes = {"drug_code": pairs["drug_code"].unique()}, {"outcome_code": pairs["outcome_code"].unique()}
    onsets = marts.read("scan.scan_outcome_onsets", outcomes)
    for name, rows in (("scan_drug_initiations", marts.read("scan.scan_drug_initiations", drugs)),
                       ("scan_outcome_onsets", onsets),
                       ("scan_drug_episodes", marts.read("scan.scan_drug_episodes", drugs)),
                       ("scan_patient_windows", marts.read("scan.scan_patient_windows",
                                                            {"patient_id": onsets["patient_id"].unique()}))):
        stage(conn, name, rows, marts.pg_types(f"scan.{name}"))


def drilldown_counts(pairs: pd.DataFrame, window_days: int,
                     target: str = "default") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(by month since initiation, exposed cases by age group and sex) for ``pairs``, from the
    scan marts of dbt target ``target`` (on Spark, their rows for these pairs are staged in
    PostgreSQL and counted by the same SQL)."""
    params = {
        "dl": pairs["drug_level"].tolist(), "dc": pairs["drug_code"].tolist(),
        "ol": pairs["outcome_level"].tolist(), "oc": pairs["outcome_code"].tolist(),
        "window": int(window_days),
    }
    by_month_sql, exposed_sql = BY_MONTH, EXPOSED
    with db.engine(db.ANALYST if check_target(target) == "default" else db.ENGINEER).connect() as conn:
        if target != "default":
            _stage_spark_rows(conn, pairs)
            by_month_sql, exposed_sql = (sql.replace("scan.scan_", "pg_temp.scan_") for sql in (BY_MONTH, EXPOSED))
        by_month = pd.read_sql(sa.text(by_month_sql), conn, params=params)
        exposed = pd.read_sql(sa.text(exposed_sql), conn, params=params)
    return by_month, exposed
