"""Results of study runs: one run id per execution of `veille study run`.

Revision ID: 0003_results
Revises: 0002_study_registry
Create Date: 2026-11-28

Counts are stored exact (this is the analyst's own database); the small-cell rule applies to
everything exported from here (`veille study results`, reports).
"""

from alembic import op

revision = "0003_results"
down_revision = "0002_study_registry"
branch_labels = None
depends_on = None

UPGRADE = r"""
create schema if not exists results;

create table results.run (
    run_id       bigint generated always as identity primary key,
    study_id     text        not null,
    started_at   timestamptz not null,
    finished_at  timestamptz,
    status       text        not null check (status in ('running', 'done', 'failed')),
    settings     jsonb       not null,
    software     jsonb       not null,
    data_span    jsonb,
    message      text
);
create index run_study_idx on results.run (study_id, run_id desc);
comment on table results.run is
  'One execution of a study: its validated settings, the data span, the software versions.';

create table results.estimate (
    run_id             bigint  not null references results.run on delete cascade,
    cohort_id          text    not null,
    outcome_id         text    not null,
    analysis           text    not null,
    term               text    not null default 'exposed',
    exposure           text    not null,
    comparator         text    not null,
    is_negative_control boolean not null default false,
    n_exposed          bigint,
    n_comparator       bigint,
    events_exposed     bigint,
    events_comparator  bigint,
    hr                 double precision,
    ci_low             double precision,
    ci_high            double precision,
    se_log_hr          double precision,
    p_value            double precision,
    status             text    not null check (status in ('ok', 'not_estimable')),
    message            text,
    primary key (run_id, cohort_id, outcome_id, analysis, term),
    check ((status = 'ok') = (hr is not null))
);
comment on table results.estimate is
  'Hazard ratios (exposure vs comparator) per comparison, outcome and analysis; not_estimable rows say why.';

create table results.incidence (
    run_id        bigint  not null references results.run on delete cascade,
    cohort_id     text    not null,
    outcome_id    text    not null,
    exposed       integer not null check (exposed in (0, 1)),
    subjects      bigint  not null,
    events        bigint  not null,
    person_years  double precision not null,
    rate_per_1000 double precision,
    ci_low        double precision,
    ci_high       double precision,
    primary key (run_id, cohort_id, outcome_id, exposed)
);
comment on table results.incidence is 'Incidence rates per 1,000 person-years, exact Poisson CIs.';

create table results.balance (
    run_id          bigint not null references results.run on delete cascade,
    cohort_id       text   not null,
    outcome_id      text   not null,
    covariate       text   not null,
    mean_exposed    double precision,
    mean_comparator double precision,
    smd_before      double precision,
    smd_iptw        double precision,
    smd_matched     double precision,
    primary key (run_id, cohort_id, outcome_id, covariate)
);
comment on table results.balance is 'Standardized mean differences before and after weighting and matching (flag > 0.1).';

create table results.attrition (
    run_id       bigint  not null references results.run on delete cascade,
    cohort_id    text    not null,
    outcome_id   text,
    step         integer not null,
    criterion    text    not null,
    n_exposed    bigint  not null,
    n_comparator bigint  not null
);
create index attrition_run_idx on results.attrition (run_id, cohort_id, step);
comment on table results.attrition is 'Subjects left after each selection criterion (copied from the mart at run time).';

create table results.diagnostic (
    run_id      bigint not null references results.run on delete cascade,
    cohort_id   text   not null,
    outcome_id  text,
    kind        text   not null,
    value       double precision,
    message     text   not null
);
create index diagnostic_run_idx on results.diagnostic (run_id, cohort_id);
comment on table results.diagnostic is
  'Checks and warnings: PH test, weights, matching, dropped covariates, what could not be estimated.';
"""

DOWNGRADE = "drop schema results cascade;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
