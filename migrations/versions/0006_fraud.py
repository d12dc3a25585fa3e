"""Fraud and misuse sweep results: swept months, provider anomaly scores, ranked alerts; indexes
on the claims' flow month so that a monthly sweep reads that month only.

Revision ID: 0006_fraud
Revises: 0003_results
Create Date: 2026-11-28

Exact counts and internal ids stay in the analyst's database; exports (reports, `veille fraud
evaluate`) use pseudonymous ids and the small-cell rule.
"""

from alembic import op

revision = "0006_fraud"
down_revision = "0003_results"
branch_labels = None
depends_on = None

UPGRADE = r"""
create schema if not exists results;

create table results.fraud_sweep (
    month       date        primary key check (extract(day from month) = 1),
    swept_at    timestamptz not null,
    seconds     double precision not null check (seconds >= 0),
    n_alerts    integer     not null check (n_alerts >= 0),
    settings    jsonb       not null
);
comment on table results.fraud_sweep is 'One row per swept monthly flow (the latest sweep of it).';

create table results.fraud_provider_score (
    month         date   not null references results.fraud_sweep on delete cascade,
    provider_id   text   not null,
    peer_group    text   not null,
    forest_score  double precision not null,
    is_outlier    boolean not null,
    primary key (month, provider_id)
);
comment on table results.fraud_provider_score is
  'Isolation-forest anomaly score of a provider''s monthly feature vector (higher = more anomalous).';

create table results.fraud_alert (
    month        date    not null references results.fraud_sweep on delete cascade,
    entity_kind  text    not null check (entity_kind in ('patient', 'provider')),
    entity_id    text    not null,
    alert_kind   text    not null,
    score        double precision,
    alert_rank   integer,
    status       text    not null check (status in ('new', 'persisting', 'resolved')),
    reasons      text    not null,
    primary key (month, entity_kind, entity_id),
    check ((status = 'resolved') = (score is null))
);
-- the monthly sweep reads one flow month of each claims table
create index if not exists dispensing_flow_month_idx on claims.dispensing (flow_month);
create index if not exists service_line_flow_month_idx on claims.service_line (flow_month);
create index if not exists medical_act_flow_month_idx on claims.medical_act (flow_month);
create index if not exists lab_test_flow_month_idx on claims.lab_test (flow_month);

comment on table results.fraud_alert is
  'Ranked alerts of a swept month, one per entity, with why; resolved = alerted the month before, not now.';
"""

DOWNGRADE = """
drop index if exists claims.dispensing_flow_month_idx;
drop index if exists claims.service_line_flow_month_idx;
drop index if exists claims.medical_act_flow_month_idx;
drop index if exists claims.lab_test_flow_month_idx;
drop table results.fraud_alert;
drop table results.fraud_provider_score;
drop table results.fraud_sweep;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
