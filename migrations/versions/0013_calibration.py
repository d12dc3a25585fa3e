"""Empirical calibration on negative controls: the calibrated p-value and interval of each
estimate, and the fitted systematic-error distribution of each comparison x analysis x term
(veille.study.calibration). The roles get their rights on the new table from the default
privileges of 0010_roles.

Revision ID: 0013_calibration
Revises: 0012_sccs
Create Date: 2026-12-05
"""

from alembic import op

revision = "0013_calibration"
down_revision = "0012_sccs"
branch_labels = None
depends_on = None

UPGRADE = """
alter table results.estimate
    add column calibrated_p       double precision,
    add column calibrated_ci_low  double precision,
    add column calibrated_ci_high double precision;
comment on column results.estimate.calibrated_p is
  'p-value under the empirical null of the negative controls (Schuemie 2014); null: not calibrated.';
comment on column results.estimate.calibrated_ci_low is
  'Calibrated 95% interval (Schuemie 2018, systematic error constant in the effect size).';

create table results.calibration (
    run_id      bigint  not null references results.run on delete cascade,
    cohort_id   text    not null,
    analysis    text    not null,
    term        text    not null,
    n_controls  integer not null,
    mu          double precision,
    sigma       double precision,
    message     text,
    primary key (run_id, cohort_id, analysis, term),
    check ((mu is null) = (sigma is null))
);
comment on table results.calibration is
  'Empirical null per comparison x analysis x term: log estimates of the negative controls ~ N(mu, sigma^2 + se^2).';
"""

DOWNGRADE = """
drop table results.calibration;
alter table results.estimate drop column calibrated_p, drop column calibrated_ci_low,
    drop column calibrated_ci_high;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
