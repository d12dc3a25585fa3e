"""Results of the global drug-safety screen (`veille scan`): one run id per scan.

Revision ID: 0004_scan
Revises: 0003_results
Create Date: 2026-11-28

Counts are stored exact (this is the analyst's own database); the small-cell rule applies to
everything exported from here (the HTML report, `veille scan` listings).
"""

from alembic import op

revision = "0004_scan"
down_revision = "0003_results"
branch_labels = None
depends_on = None

UPGRADE = r"""
create schema if not exists results;

create table results.scan_run (
    run_id       bigint generated always as identity primary key,
    started_at   timestamptz not null,
    finished_at  timestamptz,
    status       text        not null check (status in ('running', 'done', 'failed')),
    settings     jsonb       not null,
    n_pairs      integer     check (n_pairs >= 0),
    n_signals    integer     check (n_signals >= 0),
    seconds      jsonb,
    message      text
);
comment on table results.scan_run is
  'One execution of `veille scan`: its settings (windows, minimum events, FDR level, seed), timings.';

create table results.signal (
    run_id             bigint  not null references results.scan_run on delete cascade,
    drug_level         text    not null check (drug_level in ('atc7', 'atc5')),
    drug_code          text    not null,
    outcome_level      text    not null check (outcome_level in ('icd3', 'block')),
    outcome_code       text    not null,
    ssa_drug_first     bigint  not null check (ssa_drug_first >= 0),
    ssa_outcome_first  bigint  not null check (ssa_outcome_first >= 0),
    ssa_csr            double precision,
    ssa_nsr            double precision,
    ssa_asr            double precision,
    ssa_ci_low         double precision,
    ssa_ci_high        double precision,
    ssa_p              double precision,
    oe_observed        bigint  not null check (oe_observed >= 0),
    oe_expected        double precision not null check (oe_expected >= 0),
    oe_ratio           double precision,
    oe_ic              double precision,
    oe_ic025           double precision,
    oe_ic975           double precision,
    oe_p               double precision,
    tree_risk          bigint  not null check (tree_risk >= 0),
    tree_control       bigint  not null check (tree_control >= 0),
    tree_llr           double precision,
    tree_p             double precision,
    combined_p         double precision not null,
    q_value            double precision not null,
    is_signal          boolean not null,
    rank               integer not null check (rank >= 1),
    primary key (run_id, drug_level, drug_code, outcome_level, outcome_code),
    unique (run_id, rank)
);
comment on table results.signal is
  'Every scanned drug x outcome pair of a run: sequence symmetry (ASR), observed vs expected '
  '(BCPNN IC), tree scan (LLR, Monte Carlo p), combined p, BH q-value and rank (1 = strongest).';
"""

DOWNGRADE = """
drop table results.signal;
drop table results.scan_run;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
