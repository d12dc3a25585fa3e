"""Results of the drug-drug interaction screen (`veille scan interactions`, issue 25): one run id
per screen, every drug pair x outcome with both methods, the combined p, q-value and rank.

Revision ID: 0019_scan_interactions
Revises: 0018_tree_scan_exposed_time
Create Date: 2026-12-06

Counts are stored exact (the analyst's own database); the small-cell rule applies to what is
exported (the report, the listings). Grants come from the default privileges on `results`.
"""

from alembic import op

revision = "0019_scan_interactions"
down_revision = "0018_tree_scan_exposed_time"
branch_labels = None
depends_on = None

UPGRADE = r"""
create table results.interaction_run (
    run_id       bigint generated always as identity primary key,
    started_at   timestamptz not null,
    finished_at  timestamptz,
    status       text        not null check (status in ('running', 'done', 'failed')),
    settings     jsonb       not null,
    n_triples    integer     check (n_triples >= 0),
    n_signals    integer     check (n_signals >= 0),
    seconds      jsonb,
    message      text
);
comment on table results.interaction_run is
  'One execution of `veille scan interactions`: its settings (minimum co-exposed patients and events, FDR level), timings.';

create table results.interaction_signal (
    run_id        bigint  not null references results.interaction_run on delete cascade,
    drug_level    text    not null check (drug_level in ('atc7', 'atc5')),
    drug_a        text    not null,
    drug_b        text    not null,
    outcome_code  text    not null,
    patients_ab   bigint  not null check (patients_ab >= 0),
    days_ab       bigint  not null check (days_ab >= 0),
    o_ab          bigint  not null check (o_ab >= 0),
    e_ab_base     double precision not null check (e_ab_base >= 0),
    e_mult        double precision,
    o_a           bigint  not null,
    e_a           double precision not null,
    o_b           bigint  not null,
    e_b           double precision not null,
    omega         double precision,
    omega025      double precision,
    omega975      double precision,
    omega_p       double precision,
    omega_cal_p   double precision,
    ror_ab        double precision,
    ror_ab_low    double precision,
    ror_ab_high   double precision,
    ror_ab_p      double precision,
    cases_ab      bigint  not null check (cases_ab >= 0),
    ror_ba        double precision,
    ror_ba_low    double precision,
    ror_ba_high   double precision,
    ror_ba_p      double precision,
    cases_ba      bigint  not null check (cases_ba >= 0),
    sccs_p        double precision,
    combined_p    double precision not null,
    q_value       double precision not null,
    is_signal     boolean not null,
    rank          integer not null check (rank >= 1),
    primary key (run_id, drug_level, drug_a, drug_b, outcome_code),
    unique (run_id, rank),
    check (drug_a < drug_b)
);
comment on table results.interaction_signal is
  'Every screened drug pair x outcome of a run: observed vs multiplicative expected (Omega, log2), '
  'ratio of ratios with each drug as the object (self-controlled), combined p, BH q-value, rank (1 = strongest).';
"""

DOWNGRADE = """
drop table results.interaction_signal;
drop table results.interaction_run;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
