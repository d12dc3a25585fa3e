"""The last flow month of each loaded DCIR file (meta.load_batch.flow_month_last), beside its
first (flow_month): a later load whose files overlap a flow month already loaded for the same
table is refused (veille.load.loader), since a flow month is delivered once and its corrections
come in later flow months.

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
"""

DOWNGRADE = """
alter table meta.load_batch drop constraint load_batch_flow_months_check;
alter table meta.load_batch drop column flow_month_last;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
