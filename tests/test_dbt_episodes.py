"""Drug episodes with stockpiling off and a 30-day persistence window equal OMOP CDM drug_era.

The reference below is the classic event-based era construction (start events and end events
padded by the persistence window, an era closes where the running count of open exposures
falls to zero), written independently here; it is checked against the one-pass episode model
on a few thousand random dispensings with overlaps, same-day fills and gaps around 30 days.
"""

from __future__ import annotations

import subprocess

import sqlalchemy as sa
from veille import db
from veille.dbt import dbt_env, dbt_executable, dbt_project_dir, run_dbt

OMOP_ERAS = """
with exposures as (
    select dispensing_id, patient_id, drug_code, dispensing_date as start_date,
           dispensing_date + days_covered as end_date
    from intermediate.int_drug_dispensings
),
events as (
    select patient_id, drug_code, start_date as event_date, -1 as event_type,
           row_number() over (partition by patient_id, drug_code order by start_date) as start_ordinal
    from exposures
    union all
    select patient_id, drug_code, end_date + 30, 1, null
    from exposures
),
ordered as (
    select *,
           max(start_ordinal) over (partition by patient_id, drug_code order by event_date, event_type
                                    rows unbounded preceding) as starts_so_far,
           row_number() over (partition by patient_id, drug_code order by event_date, event_type)
               as overall_ordinal
    from events
),
era_ends as (
    select patient_id, drug_code, event_date - 30 as end_date
    from ordered
    where event_type = 1 and 2 * starts_so_far - overall_ordinal = 0
),
exposure_era_end as (
    select e.dispensing_id, e.patient_id, e.drug_code, e.start_date, min(x.end_date) as era_end
    from exposures as e
    join era_ends as x
      on x.patient_id = e.patient_id and x.drug_code = e.drug_code and x.end_date >= e.start_date
    group by e.dispensing_id, e.patient_id, e.drug_code, e.start_date
)
select patient_id, drug_code, min(start_date) as era_start, era_end, count(*) as n_exposures
from exposure_era_end
group by patient_id, drug_code, era_end
"""

RANDOM_EXTRACT = [
    """insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read,
           rows_loaded, rows_rejected, started_at, finished_at, seconds)
       values ('x', 'x', 'x', repeat('0', 64), 0, 0, 0, now(), now(), 0)""",
    """insert into ref.drug (cip13, atc7, pack_type, units_per_pack) values
       ('3400000000001', 'A10BA02', 'NGC', 30), ('3400000000002', 'A10BA02', 'GC', 90),
       ('3400000000003', 'C10AA01', 'NGC', 30), ('3400000000004', 'N06AB06', 'NGC', 28)""",
    """insert into claims.patient (ben_nir_psa, ben_rng_gem, sex, birth_year)
       select 'P' || i, 1, 1 + i % 2, 1950 from generate_series(1, 150) as i""",
    "select setseed(0.17)",
    # refills every 0-75 days (mostly near 30), 1-2 packs, same-day fills included
    """insert into claims.dispensing (patient_id, dispensing_date, cip13, packs, flow_month, batch_id)
       select patient_id, day, cip13, packs, date_trunc('month', day)::date, 1
       from (
           select 1 + (i / 20) % 150 as patient_id,
                  date '2019-01-01' + (random() * 700)::int as day,
                  '340000000000' || (1 + (random() * 3)::int) as cip13,
                  case when random() < 0.15 then 2 else 1 end as packs
           from generate_series(0, 5999) as i
       ) as rows""",
]


def test_episodes_without_stockpiling_equal_omop_drug_era(migrated_db, tmp_path):
    with db.engine().begin() as conn:
        for sql in RANDOM_EXTRACT:
            conn.execute(sa.text(sql))
    run_dbt(["build", "--quiet", "--select", "+int_drug_episodes_built", "--exclude", "test_type:unit",
             "--vars", "{stockpiling: false, grace_days: 30}", "--target-path", str(tmp_path)])
    with db.engine().connect() as conn:
        model = conn.execute(sa.text(
            "select patient_id, drug_code, episode_start, episode_end, n_dispensings"
            " from intermediate.int_drug_episodes_built order by 1, 2, 3")).all()
        omop = conn.execute(sa.text(f"select * from ({OMOP_ERAS}) as eras order by 1, 2, 3")).all()
        n_dispensings = conn.execute(sa.text("select count(*) from claims.dispensing")).scalar()
    assert n_dispensings == 6000
    assert len(model) > 500  # many eras, so the comparison means something
    assert [tuple(r) for r in model] == [tuple(r) for r in omop]


def test_bad_var_is_one_readable_line(pg_server, tmp_path):
    proc = subprocess.run(
        [dbt_executable(), "parse",
         "--vars", "{episode_level: atc9}", "--target-path", str(tmp_path)],
        check=False, cwd=dbt_project_dir(), env=dbt_env(), capture_output=True, text=True,
    )
    assert proc.returncode != 0
    assert "var episode_level must be atc7, atc5 or atc4, got atc9" in proc.stdout
