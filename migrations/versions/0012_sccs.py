"""Self-controlled case series (SCCS) studies in the registry the dbt models read.

A study with ``design: sccs`` (analyses/studies/*.yml) writes one ``study.sccs_definition`` row
(the exposure, the population filters, the pre-exposure window, the age groups, the calendar
adjustment), its risk windows (``study.sccs_window``) and its outcomes (``study.sccs_outcome``).
dbt's ``marts.fct_sccs_intervals`` cuts each case's observation period into intervals of
constant exposure window, age group and calendar year from them. The roles get their rights on
the new tables from the default privileges of 0010_roles.

Revision ID: 0012_sccs
Revises: 0011_load_runs
Create Date: 2026-12-05
"""

from alembic import op

revision = "0012_sccs"
down_revision = "0011_load_runs"
branch_labels = None
depends_on = None

UPGRADE = """
create table study.sccs_definition (
    sccs_id             text primary key check (sccs_id ~ '^[a-z][a-z0-9_]*$'),
    study_id            text    not null,
    exposure_label      text    not null,
    exposure_atc        text[]  not null check (cardinality(exposure_atc) > 0),
    age_min             integer check (age_min >= 0),
    age_max             integer check (age_max >= 0),
    sex                 smallint check (sex in (1, 2)),
    study_start         date,
    study_end           date,
    grace_days          integer not null default 30 check (grace_days >= 0),
    pre_exposure_days   integer not null default 0 check (pre_exposure_days >= 0),
    age_group_bounds    integer[] not null default '{}',
    calendar_adjustment text    not null default 'year' check (calendar_adjustment in ('none', 'year')),
    updated_at          timestamptz not null default now(),
    check (age_min is null or age_max is null or age_min <= age_max),
    check (study_start is null or study_end is null or study_start < study_end)
);
comment on table study.sccs_definition is
  'One self-controlled case series: cases of each outcome, exposure episodes of exposure_atc. Read by dbt.';
comment on column study.sccs_definition.pre_exposure_days is
  'Days before each episode start set apart (event-dependent exposure); 0 = none.';
comment on column study.sccs_definition.age_group_bounds is
  'Ages (years) where an age group starts: the intervals are cut at these birthdays.';

create table study.sccs_window (
    sccs_id    text     not null references study.sccs_definition on delete cascade,
    window_id  smallint not null check (window_id >= 1),
    label      text     not null,
    start_day  integer  not null check (start_day >= 0),
    end_day    integer  check (end_day >= start_day),
    primary key (sccs_id, window_id)
);
comment on table study.sccs_window is
  'Risk windows: days start_day..end_day after an episode starts (end_day null: until the episode ends).';

create table study.sccs_outcome (
    sccs_id             text    not null references study.sccs_definition on delete cascade,
    outcome_id          text    not null,
    is_negative_control boolean not null default false,
    primary key (sccs_id, outcome_id)
);
comment on table study.sccs_outcome is
  'Outcomes of a case series: outcome_id names an algorithm of the dbt seed outcome_algorithms.';
"""

DOWNGRADE = """
drop table study.sccs_outcome;
drop table study.sccs_window;
drop table study.sccs_definition;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
