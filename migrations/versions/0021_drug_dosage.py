"""The dosage of a drug pack (issue 26): IR_PHA_R's optional PHA_DOS_PRA_DSES (dosage of the
active substance per unit) and PHA_DOS_UNT_DSES (its unit), kept as written and parsed. dbt
normalises the unit (seed dose_units) and derives the dose per pack and the DDDs dispensed
(int_drug_pack_doses); a pack without a usable dosage keeps its exposure days, never a guessed dose.

Revision ID: 0021_drug_dosage
Revises: 0020_sccs_interaction
Create Date: 2026-12-06
"""

from alembic import op

revision = "0021_drug_dosage"
down_revision = "0020_sccs_interaction"
branch_labels = None
depends_on = None

UPGRADE = """
alter table ref.drug
    add column dosage_text text,
    add column dosage numeric(18, 6) check (dosage > 0),
    add column dosage_unit text;
comment on column ref.drug.dosage_text is 'PHA_DOS_PRA_DSES as written (trimmed; null when empty or absent)';
comment on column ref.drug.dosage is 'PHA_DOS_PRA_DSES parsed (decimal point or comma), null when missing or unparseable';
comment on column ref.drug.dosage_unit is 'PHA_DOS_UNT_DSES as written (trimmed; e.g. MG, µG, UI)';
comment on table ref.drug is 'Drug packs from IR_PHA_R: CIP13 -> ATC7, molecule, pack type (GC = large pack), '
  'units per pack, dosage of the active substance per unit and its unit.';
"""

DOWNGRADE = """
alter table ref.drug drop column dosage_text, drop column dosage, drop column dosage_unit;
comment on table ref.drug is 'Drug packs from IR_PHA_R: CIP13 -> ATC7, molecule, pack type (GC = large pack), units per pack.';
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
