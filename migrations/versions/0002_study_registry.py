"""Study registry: cohort definitions the dbt cohort models read (written by `veille study`).

Revision ID: 0002_study_registry
Revises: 0001_claims
Create Date: 2026-11-28
"""

from alembic import op

revision = "0002_study_registry"
down_revision = "0001_claims"
branch_labels = None
depends_on = None

UPGRADE = r"""
create schema if not exists study;

create table study.cohort_definition (
    cohort_id                  text primary key check (cohort_id ~ '^[a-z][a-z0-9_]*$'),
    study_id                   text    not null,
    exposure_label             text    not null,
    exposure_atc               text[]  not null check (cardinality(exposure_atc) > 0),
    comparator_kind            text    not null check (comparator_kind in ('active', 'non_user')),
    comparator_label           text    not null,
    comparator_atc             text[],
    base_atc                   text[],
    washout_days               integer not null default 365 check (washout_days >= 0),
    min_prior_observation_days integer not null default 365 check (min_prior_observation_days >= 0),
    age_min                    integer check (age_min >= 0),
    age_max                    integer check (age_max >= 0),
    sex                        smallint check (sex in (1, 2)),
    study_start                date,
    study_end                  date,
    min_purchases              integer not null default 1 check (min_purchases >= 1),
    purchase_window_days       integer not null default 0 check (purchase_window_days >= 0),
    strategy                   text    not null default 'as_treated'
                                       check (strategy in ('as_treated', 'itt')),
    grace_days                 integer not null default 30 check (grace_days >= 0),
    end_delay_days             integer not null default 0 check (end_delay_days >= 0),
    start_delay_days           integer not null default 0 check (start_delay_days >= 0),
    max_followup_days          integer check (max_followup_days > 0),
    covariate_atc              text[]  not null default '{}',
    updated_at                 timestamptz not null default now(),
    check (age_min is null or age_max is null or age_min <= age_max),
    check (study_start is null or study_end is null or study_start < study_end),
    check ((comparator_kind = 'active') = (comparator_atc is not null and cardinality(comparator_atc) > 0))
);
comment on table study.cohort_definition is
  'One comparison of a study: new users of exposure_atc vs comparator (ATC prefixes). Read by dbt.';

create table study.cohort_outcome (
    cohort_id      text    not null references study.cohort_definition on delete cascade,
    outcome_id     text    not null,
    lookback_days  integer not null default 365 check (lookback_days >= 0),
    is_negative_control boolean not null default false,
    primary key (cohort_id, outcome_id)
);
comment on table study.cohort_outcome is
  'Outcomes of a cohort: outcome_id names an algorithm of the dbt seed outcome_algorithms.';
"""

DOWNGRADE = "drop schema study cascade;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
