"""Cumulative-exposure categories of a cohort study, by duration and by dose, in one registry
table (issue 26). ``study.cohort_dose_category`` (0022) becomes ``study.cohort_exposure_category``
with a ``measure``: 'duration' (study YAML ``cumulative_exposure``: thresholds in days, e.g.
< 12, 12-23, >= 24 months) or 'dose' (``cumulative_dose``: mg, IU or DDDs). The duration
categories were fixed at 365 and 730 days in the dbt mart fct_study_counting_process: the
cohorts registered before this revision get those as rows, so the mart gives what it gave.

Revision ID: 0023_study_exposure_categories
Revises: 0022_study_dose_categories
Create Date: 2026-12-06
"""

from alembic import op

revision = "0023_study_exposure_categories"
down_revision = "0022_study_dose_categories"
branch_labels = None
depends_on = None

UPGRADE = """
create table study.cohort_exposure_category (
    cohort_id       text not null references study.cohort_definition on delete cascade,
    measure         text not null check (measure in ('duration', 'dose')),
    category_number smallint not null check (category_number >= 0),
    lower_bound     numeric(18, 6) not null check (lower_bound >= 0),
    unit            text not null check (unit in ('days', 'mg', 'IU', 'ddd')),
    label           text not null,
    primary key (cohort_id, measure, category_number),
    check ((measure = 'duration') = (unit = 'days'))
);
comment on table study.cohort_exposure_category is
  'Cumulative-exposure categories of a cohort (study YAML cumulative_exposure and cumulative_dose): '
  'category k of a measure holds the cumulative days exposed (duration) or the cumulative dose '
  'dispensed (dose) since index from lower_bound to the next category''s.';

insert into study.cohort_exposure_category (cohort_id, measure, category_number, lower_bound, unit, label)
select cohort_id, 'dose', category_number, lower_bound, dose_unit, label
from study.cohort_dose_category;

insert into study.cohort_exposure_category (cohort_id, measure, category_number, lower_bound, unit, label)
select definitions.cohort_id, 'duration', defaults.category_number, defaults.lower_bound, 'days', defaults.label
from study.cohort_definition as definitions
cross join (values (0, 0, '<12 months'), (1, 365, '12-23 months'), (2, 730, '>=24 months'))
    as defaults (category_number, lower_bound, label);

drop table study.cohort_dose_category;
"""

DOWNGRADE = """
create table study.cohort_dose_category (
    cohort_id       text not null references study.cohort_definition on delete cascade,
    category_number smallint not null check (category_number >= 0),
    lower_bound     numeric(18, 6) not null check (lower_bound >= 0),
    dose_unit       text not null check (dose_unit in ('mg', 'IU')),
    label           text not null,
    primary key (cohort_id, category_number)
);
insert into study.cohort_dose_category (cohort_id, category_number, lower_bound, dose_unit, label)
select cohort_id, category_number, lower_bound, unit, label
from study.cohort_exposure_category
where measure = 'dose' and unit in ('mg', 'IU');
drop table study.cohort_exposure_category;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
