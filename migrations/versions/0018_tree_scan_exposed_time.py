"""The tree scan on exposed time (issue 23): each signal's expected risk events, its node's own
mid-p and the node of the ICD-10 tree where the signal lives in results.signal.

Revision ID: 0018_tree_scan_exposed_time
Revises: 0017_load_change
Create Date: 2026-12-06
"""

from alembic import op

revision = "0018_tree_scan_exposed_time"
down_revision = "0017_load_change"
branch_labels = None
depends_on = None

UPGRADE = """
alter table results.signal
    add column tree_expected   double precision,
    add column tree_node_p     double precision,
    add column tree_node_level text,
    add column tree_node_code  text;
comment on column results.signal.tree_expected is
  'Tree scan: risk events expected with no effect (each event''s share of exposed days of its patient).';
comment on column results.signal.tree_node_p is
  'Tree scan: one-sided binomial mid-p of the node alone (tree_p is family-wise over the drug''s tree).';
comment on column results.signal.tree_node_level is
  'Tree scan: level (icd3, block, chapter) of the node with the largest LLR among the outcome and the nodes above it.';
comment on column results.signal.tree_node_code is
  'Tree scan: code of that node (where the signal lives).';
"""

DOWNGRADE = """
alter table results.signal drop column tree_expected, drop column tree_node_p,
    drop column tree_node_level, drop column tree_node_code;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
