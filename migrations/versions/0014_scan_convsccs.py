"""The convolutional self-controlled case series as a fourth scan method: its per-pair summary
in results.signal and each pair's lag curve in results.signal_lag (veille.study.convsccs). The
roles get their rights on the new table from the default privileges of 0010_roles.

Revision ID: 0014_scan_convsccs
Revises: 0013_calibration
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014_scan_convsccs"
down_revision = "0013_calibration"
branch_labels = None
depends_on = None

UPGRADE = """
alter table results.signal
    add column conv_ri       double precision,
    add column conv_ci_low   double precision,
    add column conv_ci_high  double precision,
    add column conv_peak_ri  double precision,
    add column conv_peak_lag integer,
    add column conv_events   integer,
    add column conv_p        double precision;
comment on column results.signal.conv_ri is
  'ConvSCCS: exp of the mean log relative incidence over the lags (one model per outcome, every drug).';
comment on column results.signal.conv_p is
  'ConvSCCS: one-sided p of an excess, mean log relative incidence over its bootstrap standard error.';
comment on column results.signal.conv_events is
  'ConvSCCS: cases with their event within the lag window after a start of the drug.';

create table results.signal_lag (
    run_id        bigint  not null references results.scan_run on delete cascade,
    drug_level    text    not null,
    drug_code     text    not null,
    outcome_code  text    not null,
    lag           integer not null,
    lag_start_day integer not null,
    ri            double precision not null,
    ci_low        double precision,
    ci_high       double precision,
    primary key (run_id, drug_level, drug_code, outcome_code, lag)
);
comment on table results.signal_lag is
  'ConvSCCS lag curves: relative incidence per lag bucket after an exposure start, bootstrap 95% interval.';
"""

DOWNGRADE = """
drop table results.signal_lag;
alter table results.signal drop column conv_ri, drop column conv_ci_low, drop column conv_ci_high,
    drop column conv_peak_ri, drop column conv_peak_lag, drop column conv_events, drop column conv_p;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
