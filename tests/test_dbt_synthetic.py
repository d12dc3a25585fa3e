"""`dbt build` on the shared synthetic warehouse (a small `strong` extract, generated and loaded
once per session by the `synthetic_warehouse` fixture, which fails if the build fails): the
warehouse marts hold together on realistic data."""

from __future__ import annotations

import sqlalchemy as sa
from veille import db


def _scalar(sql: str):
    with db.engine().connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def test_every_dispensing_of_a_living_patient_is_in_one_episode(warehouse):
    dispensings = _scalar("""
        select count(*) from intermediate.int_drug_dispensings as d
        join claims.patient as p using (patient_id) where p.death_date is null""")
    in_episodes = _scalar("""
        select sum(e.n_dispensings) from marts.fct_drug_episodes as e
        join claims.patient as p using (patient_id) where p.death_date is null""")
    assert dispensings > 10_000
    assert in_episodes == dispensings


def test_every_claim_day_before_death_is_observed(warehouse):
    unobserved = _scalar("""
        select count(*)
        from intermediate.int_patient_activity_dates as a
        join claims.patient as p using (patient_id)
        where (p.death_date is null or a.activity_date <= p.death_date)
          and not exists (
              select 1 from marts.fct_observation_periods as o
              where o.patient_id = a.patient_id
                and a.activity_date between o.observation_start and o.observation_end)""")
    assert unobserved == 0


def test_outcome_algorithms_find_events(warehouse):
    n_outcomes = _scalar("select count(distinct outcome_id) from marts.fct_outcome_events")
    assert n_outcomes >= 3
