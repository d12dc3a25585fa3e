"""Care pathways: indicator registry and results of `veille pathways run`.

Revision ID: 0005_pathways
Revises: 0003_results
Create Date: 2026-11-28

The indicator registry (`results.pathways_indicator*`) holds the guideline indicators declared
in `analyses/indicators/*.yml`; the dbt model `fct_pathways_indicator_patient` reads it. Every
other table is keyed by the run id of one `veille pathways run`. Counts are stored exact; the
small-cell rule applies to what is exported (reports, `--format json`).
"""

from alembic import op

revision = "0005_pathways"
down_revision = "0003_results"
branch_labels = None
depends_on = None

UPGRADE = r"""
create schema if not exists results;

create table results.pathways_indicator_definition (
    indicator_id          text primary key check (indicator_id ~ '^[a-z][a-z0-9_]*$'),
    label                 text    not null,
    population_kind       text    not null check (population_kind in ('atc', 'hospital_dp')),
    population_codes      text[]  not null check (cardinality(population_codes) > 0),
    population_min_events integer not null default 1 check (population_min_events >= 1),
    window_kind           text    not null check (window_kind in ('calendar', 'after_index')),
    window_length         integer not null check (window_length >= 1),
    source_file           text,
    updated_at            timestamptz not null default now()
);
comment on table results.pathways_indicator_definition is
  'Guideline indicators: population, window (calendar: years ending with each year; after_index: days after discharge).';

create table results.pathways_indicator_item (
    indicator_id text    not null references results.pathways_indicator_definition on delete cascade,
    item_number  integer not null,
    item_kind    text    not null check (item_kind in ('nabm', 'ccam', 'atc', 'visit_specialty')),
    item_codes   text[]  not null check (cardinality(item_codes) > 0),
    min_count    integer not null default 1 check (min_count >= 1),
    primary key (indicator_id, item_number)
);
comment on table results.pathways_indicator_item is
  'Required care items of an indicator (all required): codes are prefixes (ATC) or exact codes.';

create table results.pathways_run (
    run_id      bigint generated always as identity primary key,
    started_at  timestamptz not null,
    finished_at timestamptz,
    status      text        not null check (status in ('running', 'done', 'failed')),
    settings    jsonb       not null,
    message     text
);

create table results.pathways_care_rate (
    run_id       bigint not null references results.pathways_run on delete cascade,
    measure      text   not null,
    stratum_kind text   not null,
    stratum      text   not null,
    year         integer not null,
    events       double precision not null,
    person_years double precision not null,
    crude_rate   double precision,
    std_rate     double precision,
    ci_low       double precision,
    ci_high      double precision,
    primary key (run_id, measure, stratum_kind, stratum, year)
);
comment on table results.pathways_care_rate is
  'Care-use rates per person-year, directly age-standardized to the reference population, gamma CIs.';

create table results.pathways_adherence (
    run_id         bigint not null references results.pathways_run on delete cascade,
    drug_class     text   not null,
    patients       bigint not null,
    mean_pdc       double precision,
    median_pdc     double precision,
    adherent       bigint not null,
    adherent_share double precision,
    ci_low         double precision,
    ci_high        double precision,
    mean_mpr       double precision,
    primary key (run_id, drug_class)
);

create table results.pathways_indicator_rate (
    run_id       bigint not null references results.pathways_run on delete cascade,
    indicator_id text   not null,
    level        text   not null check (level in ('national', 'prescriber', 'department')),
    unit         text   not null,
    denominator  bigint not null,
    numerator    bigint not null,
    rate         double precision,
    ci_low       double precision,
    ci_high      double precision,
    funnel       text check (funnel in ('inside', 'below_95', 'above_95', 'below_998', 'above_998')),
    primary key (run_id, indicator_id, level, unit)
);

create table results.pathways_path (
    run_id    bigint not null references results.pathways_run on delete cascade,
    path      text   not null,
    length    integer not null,
    patients  bigint not null,
    primary key (run_id, path)
);

create table results.pathways_cluster_k (
    run_id     bigint  not null references results.pathways_run on delete cascade,
    k          integer not null,
    total_distance double precision not null,
    silhouette double precision,
    chosen     boolean not null,
    primary key (run_id, k)
);

create table results.pathways_cluster (
    run_id     bigint  not null references results.pathways_run on delete cascade,
    cluster    integer not null,
    medoid     text    not null,
    size       bigint  not null,
    description jsonb  not null,
    primary key (run_id, cluster)
);

create table results.pathways_cluster_member (
    run_id     bigint  not null references results.pathways_run on delete cascade,
    patient_id bigint  not null,
    cluster    integer not null,
    distance   double precision not null,
    primary key (run_id, patient_id)
);
"""

DOWNGRADE = """
drop table results.pathways_cluster_member;
drop table results.pathways_cluster;
drop table results.pathways_cluster_k;
drop table results.pathways_path;
drop table results.pathways_indicator_rate;
drop table results.pathways_adherence;
drop table results.pathways_care_rate;
drop table results.pathways_run;
drop table results.pathways_indicator_item;
drop table results.pathways_indicator_definition;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
