"""The drugs of a multi-drug case series (``sccs.convolution`` in a study YAML): each gets its
own lag curve in one ConvSCCS model with the series' exposure (veille.study.convsccs). The
roles get their rights on the new table from the default privileges of 0010_roles.

Revision ID: 0015_sccs_convolution
Revises: 0014_scan_convsccs
Create Date: 2026-12-05
"""

from alembic import op

revision = "0015_sccs_convolution"
down_revision = "0014_scan_convsccs"
branch_labels = None
depends_on = None

UPGRADE = """
create table study.sccs_drug (
    sccs_id      text     not null references study.sccs_definition on delete cascade,
    drug_id      smallint not null check (drug_id >= 1),
    label        text     not null,
    atc_prefixes text[]   not null check (cardinality(atc_prefixes) > 0),
    primary key (sccs_id, drug_id)
);
comment on table study.sccs_drug is
  'Drugs of a multi-drug case series (ConvSCCS), beside the exposure (drug 0): episodes of atc_prefixes.';
"""

DOWNGRADE = """
drop table study.sccs_drug;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
