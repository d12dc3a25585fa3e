"""Normalized claims schema: claims, ref and meta.

Revision ID: 0001_claims
Revises:
Create Date: 2026-11-28
"""

from alembic import op

revision = "0001_claims"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = r"""
create schema if not exists meta;
create schema if not exists ref;
create schema if not exists claims;

-- ------------------------------------------------------------------ meta
create table meta.load_batch (
    batch_id        bigint generated always as identity primary key,
    extract_dir     text        not null,
    file_name       text        not null,
    table_name      text        not null,
    checksum        char(64)    not null unique,
    flow_month      date,
    rows_read       bigint      not null check (rows_read >= 0),
    rows_loaded     bigint      not null check (rows_loaded >= 0),
    rows_rejected   bigint      not null check (rows_rejected >= 0),
    rows_dropped    bigint      not null default 0 check (rows_dropped >= 0),
    started_at      timestamptz not null,
    finished_at     timestamptz not null,
    seconds         double precision not null check (seconds >= 0),
    check (finished_at >= started_at)
);
comment on table meta.load_batch is 'One row per loaded file of an extract (a file is identified by its SHA-256). rows_dropped: removed by a documented cleaning rule (DPN_QLF = 71, return codes, error GHM, netted regularisations).';

create table meta.rejected_row (
    batch_id     bigint not null references meta.load_batch (batch_id) on delete cascade,
    file_name    text   not null,
    line_number  bigint not null check (line_number >= 1),
    column_name  text,
    value        text,
    reason       text   not null
);
create index rejected_row_batch_idx on meta.rejected_row (batch_id);
comment on table meta.rejected_row is 'Rows that broke the input contract, with the line (header = 1) and the reason.';

-- ------------------------------------------------------------------ ref
create table ref.drug (
    cip13          char(13) primary key check (cip13 ~ '^[0-9]{13}$'),
    atc7           varchar(7) check (atc7 ~ '^[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}$'),
    molecule       text,
    product_name   text,
    pack_type      varchar(3) check (pack_type in ('GC', 'NGC')),
    units_per_pack integer check (units_per_pack > 0)
);
comment on table ref.drug is 'Drug packs from IR_PHA_R: CIP13 -> ATC7, molecule, pack type (GC = large pack), units per pack.';

create table ref.icd10 (code varchar(6) primary key, label text);
create table ref.ccam  (code varchar(7) primary key, label text);
create table ref.nabm  (code varchar(4) primary key, label text);

-- ------------------------------------------------------------------ claims
create table claims.patient (
    patient_id      bigint generated always as identity primary key,
    ben_nir_psa     varchar(17) not null,
    ben_rng_gem     smallint    not null,
    sex             smallint    check (sex in (1, 2)),
    birth_year      smallint    check (birth_year between 1880 and 2100),
    birth_month     smallint    check (birth_month between 1 and 12),
    death_date      date,
    residence_dpt   varchar(3),
    rights_date     date,
    unique (ben_nir_psa, ben_rng_gem),
    check (death_date is null or birth_year is null or extract(year from death_date) >= birth_year)
);
comment on table claims.patient is 'Beneficiaries (IR_BEN_R): pseudonymous BEN_NIR_PSA + birth rank BEN_RNG_GEM.';

create table claims.provider (
    provider_id  varchar(20) primary key,
    kind         varchar(12) not null check (kind in ('professional', 'pharmacy', 'facility')),
    specialty    varchar(4)
);
comment on table claims.provider is 'Prescribers and executing professionals (PFS_*_NUM), pharmacies, facilities (FINESS).';

create table claims.dispensing (
    dispensing_id     bigint generated always as identity primary key,
    patient_id        bigint   not null references claims.patient,
    dispensing_date   date     not null,
    cip13             char(13) not null references ref.drug,
    packs             integer  not null check (packs > 0),
    prescriber_id     varchar(20) references claims.provider,
    pharmacy_id       varchar(20) references claims.provider,
    amount_paid       numeric(12, 2),
    amount_reimbursed numeric(12, 2),
    flow_month        date     not null,
    batch_id          bigint   not null references meta.load_batch
);
create index dispensing_patient_date_idx on claims.dispensing (patient_id, dispensing_date);
create index dispensing_cip13_idx on claims.dispensing (cip13);
comment on table claims.dispensing is 'Drug dispensings (ER_PRS_F x ER_PHA_F), net of regularisation lines, DPN_QLF = 71 dropped.';

create table claims.medical_act (
    act_id       bigint generated always as identity primary key,
    patient_id   bigint     not null references claims.patient,
    act_date     date       not null,
    ccam_code    varchar(7) not null,
    provider_id  varchar(20) references claims.provider,
    flow_month   date       not null,
    batch_id     bigint     not null references meta.load_batch
);
create index medical_act_patient_date_idx on claims.medical_act (patient_id, act_date);

create table claims.lab_test (
    lab_test_id   bigint generated always as identity primary key,
    patient_id    bigint     not null references claims.patient,
    test_date     date       not null,
    nabm_code     varchar(4) not null,
    quantity      integer    not null,
    provider_id   varchar(20) references claims.provider,
    prescriber_id varchar(20) references claims.provider,
    flow_month    date       not null,
    batch_id      bigint     not null references meta.load_batch
);
create index lab_test_patient_date_idx on claims.lab_test (patient_id, test_date);

create table claims.service_line (
    service_id        bigint generated always as identity primary key,
    patient_id        bigint   not null references claims.patient,
    service_date      date     not null,
    end_date          date,
    nature_code       integer  not null,
    quantity          integer,
    provider_id       varchar(20) references claims.provider,
    provider_specialty varchar(4),
    prescriber_id     varchar(20) references claims.provider,
    facility_id       varchar(20),
    amount_paid       numeric(12, 2),
    amount_reimbursed numeric(12, 2),
    flow_month        date     not null,
    batch_id          bigint   not null references meta.load_batch,
    check (end_date is null or end_date >= service_date)
);
create index service_line_patient_date_idx on claims.service_line (patient_id, service_date);
comment on table claims.service_line is 'ER_PRS_F lines without a drug, CCAM or lab detail: consultations, visits, other services.';

create table claims.hospital_stay (
    stay_id         bigint generated always as identity primary key,
    facility_id     varchar(20) not null,
    rsa_num         varchar(20) not null,
    pmsi_year       smallint    not null,
    patient_id      bigint      not null references claims.patient,
    admission_date  date        not null,
    discharge_date  date        not null,
    ghm             varchar(6),
    los_days        integer     check (los_days >= 0),
    stay_type       varchar(2),
    entry_mode      varchar(2),
    exit_mode       varchar(2),
    batch_id        bigint      not null references meta.load_batch,
    unique (facility_id, rsa_num, pmsi_year),
    check (discharge_date >= admission_date)
);
create index hospital_stay_patient_date_idx on claims.hospital_stay (patient_id, admission_date);
comment on table claims.hospital_stay is 'PMSI MCO stays kept when every return code is 0 and the GHM is not an error (90*); exit_mode 9 = death.';

create table claims.stay_diagnosis (
    stay_id  bigint     not null references claims.hospital_stay on delete cascade,
    icd10    varchar(6) not null,
    role     varchar(3) not null check (role in ('DP', 'DR', 'DAS')),
    primary key (stay_id, role, icd10)
);
create index stay_diagnosis_icd10_idx on claims.stay_diagnosis (icd10);

create table claims.stay_act (
    stay_act_id bigint generated always as identity primary key,
    stay_id     bigint     not null references claims.hospital_stay on delete cascade,
    ccam_code   varchar(7) not null,
    act_date    date
);
create index stay_act_stay_idx on claims.stay_act (stay_id);

create table claims.ald (
    ald_id      bigint generated always as identity primary key,
    patient_id  bigint     not null references claims.patient,
    ald_number  smallint,
    icd10       varchar(6),
    start_date  date       not null,
    end_date    date,
    batch_id    bigint     not null references meta.load_batch,
    check (end_date is null or end_date >= start_date)
);
create index ald_patient_idx on claims.ald (patient_id, start_date);
comment on table claims.ald is 'Long-term disease registrations (IR_IMB_R); end_date null = still open.';
"""

DOWNGRADE = """
drop schema claims cascade;
drop schema ref cascade;
drop table meta.rejected_row;
drop table meta.load_batch;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
