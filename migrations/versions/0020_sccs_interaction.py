"""The object drug of an interaction case series (``sccs.interaction`` in a study YAML, issue 25):
stored in study.sccs_drug as drug -1 beside the ConvSCCS drugs (1..); the series' exposure is the
precipitant (drug 0, study.sccs_definition). Only the check on drug_id and the comment change.

Revision ID: 0020_sccs_interaction
Revises: 0019_scan_interactions
Create Date: 2026-12-06
"""

from alembic import op

revision = "0020_sccs_interaction"
down_revision = "0019_scan_interactions"
branch_labels = None
depends_on = None

UPGRADE = """
alter table study.sccs_drug drop constraint sccs_drug_drug_id_check;
alter table study.sccs_drug add constraint sccs_drug_drug_id_check check (drug_id >= -1 and drug_id <> 0);
comment on table study.sccs_drug is
  'Drugs of a case series beside the exposure (drug 0): 1.. those of a multi-drug series (ConvSCCS), '
  '-1 the object drug of an interaction series (the exposure is then the precipitant); episodes of atc_prefixes.';
"""

DOWNGRADE = """
delete from study.sccs_drug where drug_id = -1;
alter table study.sccs_drug drop constraint sccs_drug_drug_id_check;
alter table study.sccs_drug add constraint sccs_drug_drug_id_check check (drug_id >= 1);
comment on table study.sccs_drug is
  'Drugs of a multi-drug case series (ConvSCCS), beside the exposure (drug 0): episodes of atc_prefixes.';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
