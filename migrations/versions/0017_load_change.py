"""The change log of each load, per patient: what an incremental dbt build must recompute.

Revision ID: 0017_load_change
Revises: 0016_flow_month_last
Create Date: 2026-12-05

``meta.load_change``: one row per load run x patient x source, with the earliest care date that
the load changed for that patient in that source: rows inserted (a new flow month, a late
correction of an earlier care month), dispensings netted against a regularisation of a later
flow (updated or deleted), a hospital stay (its admission date). Source ``death``: the patient's
death date changed (first_date = the earlier of the old and new dates); ``patient``: another
field of the patient referential changed (first_date = -infinity: the whole history); ``drug``:
the drug referential changed (patient_id null: every patient, whole history). The incremental
dbt models recompute, for each patient, only what lies from that date on (docs/refresh.md).

The rows of loads made before this revision are rebuilt from the claims tables (one row per
patient and source, dated by the patient's first care date, under the first load's run), so a
warehouse loaded before it refreshes like one loaded after.
"""

from alembic import op

revision = "0017_load_change"
down_revision = "0016_flow_month_last"
branch_labels = None
depends_on = None

UPGRADE = """
create table meta.load_change (
    run_id      bigint      not null references meta.load_run (run_id) on delete cascade,
    patient_id  bigint,
    source      varchar(16) not null check (source in (
        'patient', 'death', 'drug', 'dispensing', 'service_line', 'medical_act', 'lab_test',
        'hospital_stay', 'ald')),
    first_date  date        not null,
    check ((patient_id is null) = (source = 'drug'))
);
create unique index load_change_key on meta.load_change (run_id, source, coalesce(patient_id, -1));
comment on table meta.load_change is
  'Per load run, patient and source: the earliest care date the load changed (what an incremental '
  'dbt build recomputes). source drug: the drug referential changed (every patient).';

insert into meta.load_change (run_id, patient_id, source, first_date)
select r.run_id, c.patient_id, c.source, c.first_date
from (select min(run_id) as run_id from meta.load_run where status = 'done') r
cross join lateral (
    select patient_id, 'dispensing' as source, min(dispensing_date) as first_date from claims.dispensing group by 1
    union all select patient_id, 'service_line', min(service_date) from claims.service_line group by 1
    union all select patient_id, 'medical_act', min(act_date) from claims.medical_act group by 1
    union all select patient_id, 'lab_test', min(test_date) from claims.lab_test group by 1
    union all select patient_id, 'hospital_stay', min(admission_date) from claims.hospital_stay group by 1
    union all select patient_id, 'ald', min(start_date) from claims.ald group by 1
    union all select patient_id, 'patient', '-infinity'::date from claims.patient
) c
where r.run_id is not null;
"""

DOWNGRADE = "drop table meta.load_change;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
