"""The last flow month of each loaded DCIR file (meta.load_batch.flow_month_last), beside its
first (flow_month): `veille load --append` refuses a file whose flow months overlap those of
a file of the same table loaded before, since a flow month is delivered once and its
corrections come in later flow months. And the care months each service-line file (ER_PRS_F)
touched (care_month_first, care_month_last: the months of EXE_SOI_DTD of its kept lines).

Revision ID: 0016_flow_month_last
Revises: 0015_sccs_convolution
Create Date: 2026-12-05
"""

from alembic import op

revision = "0016_flow_month_last"
down_revision = "0015_sccs_convolution"
branch_labels = None
depends_on = None

UPGRADE = """
alter table meta.load_batch add column flow_month_last date;
update meta.load_batch set flow_month_last = flow_month where flow_month is not null;
alter table meta.load_batch add constraint load_batch_flow_months_check
    check (flow_month_last >= flow_month);
comment on column meta.load_batch.flow_month_last is
  'Last flow month (FLX_DIS_DTD) of a DCIR file; flow_month is its first. Null for other tables.';
alter table meta.load_batch add column care_month_first date, add column care_month_last date,
    add constraint load_batch_care_months_check check (care_month_last >= care_month_first);
comment on column meta.load_batch.care_month_first is
  'First care month (EXE_SOI_DTD) of the kept lines of a service-line file (ER_PRS_F); care_month_last its last.';
"""

DOWNGRADE = """
alter table meta.load_batch drop constraint load_batch_care_months_check;
alter table meta.load_batch drop column care_month_first, drop column care_month_last;
alter table meta.load_batch drop constraint load_batch_flow_months_check;
alter table meta.load_batch drop column flow_month_last;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
