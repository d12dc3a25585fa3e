"""Cumulative-dose categories of a cohort study (issue 26): ``cumulative_dose`` in a study YAML,
e.g. pioglitazone < 10,500 mg, 10,500-27,999 mg, >= 28,000 mg. One row per category, from 0
(lower bound 0); the dbt mart fct_study_dose_counting_process splits each exposed subject's
follow-up where the cumulative dose dispensed enters the next one.

Revision ID: 0022_study_dose_categories
Revises: 0021_drug_dosage
Create Date: 2026-12-06
"""

from alembic import op

revision = "0022_study_dose_categories"
down_revision = "0021_drug_dosage"
branch_labels = None
depends_on = None

UPGRADE = """
create table study.cohort_dose_category (
    cohort_id       text not null references study.cohort_definition on delete cascade,
    category_number smallint not null check (category_number >= 0),
    lower_bound     numeric(18, 6) not null check (lower_bound >= 0),
    dose_unit       text not null check (dose_unit in ('mg', 'IU')),
    label           text not null,
    primary key (cohort_id, category_number)
);
comment on table study.cohort_dose_category is
  'Cumulative-dose categories of a cohort (study YAML cumulative_dose): category k holds the '
  'cumulative dose dispensed since index from lower_bound to the next category''s.';
"""

DOWNGRADE = """
drop table study.cohort_dose_category;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
