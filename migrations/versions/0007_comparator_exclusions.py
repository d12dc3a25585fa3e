"""Non-user comparators that also never used other drugs (e.g. non-users of any fall-risk drug).

Revision ID: 0007_comparator_exclusions
Revises: 0003_results
Create Date: 2026-11-29
"""

from alembic import op

revision = "0007_comparator_exclusions"
down_revision = "0003_results"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        alter table study.cohort_definition
            add column comparator_exclude_atc text[],
            add constraint cohort_definition_exclude_non_user
                check (comparator_exclude_atc is null or comparator_kind = 'non_user');
        comment on column study.cohort_definition.comparator_exclude_atc is
          'Non-user comparators: ATC prefixes they must never have used either (null = none).';
        """
    )


def downgrade() -> None:
    op.execute("alter table study.cohort_definition drop column comparator_exclude_atc")
