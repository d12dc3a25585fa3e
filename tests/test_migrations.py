import sqlalchemy as sa
from veille import db, migrate


def _tables() -> set[str]:
    with db.engine().connect() as conn:
        rows = conn.execute(
            sa.text(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema in ('claims', 'ref', 'meta', 'study', 'results')"
            )
        )
        return {r[0] for r in rows}


def test_upgrade_creates_the_claims_schema(migrated_db):
    tables = _tables()
    assert {
        "claims.patient", "claims.provider", "claims.dispensing", "claims.medical_act",
        "claims.lab_test", "claims.service_line", "claims.hospital_stay",
        "claims.stay_diagnosis", "claims.stay_act", "claims.ald", "ref.drug", "ref.icd10",
        "ref.ccam", "ref.nabm", "meta.load_batch", "meta.rejected_row",
        "study.cohort_definition", "study.cohort_outcome",
    } <= tables


def test_current_names_the_head(migrated_db):
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()  # one: 0010 merged the branches
    assert migrate.current() == head


def test_downgrade_to_base_removes_everything_and_upgrade_again_works(migrated_db):
    migrate.downgrade("base")
    assert _tables() == {"meta.alembic_version"}
    assert migrate.current() is None
    migrate.upgrade()
    assert "claims.dispensing" in _tables()


def test_constraints_hold(migrated_db):
    with db.engine().begin() as conn:
        conn.execute(sa.text("insert into claims.patient (ben_nir_psa, ben_rng_gem, sex) values ('A', 1, 1)"))
    try:
        with db.engine().begin() as conn:
            conn.execute(sa.text("insert into claims.patient (ben_nir_psa, ben_rng_gem, sex) values ('B', 1, 3)"))
    except sa.exc.IntegrityError as exc:
        assert "patient_sex_check" in str(exc)
    else:
        raise AssertionError("sex = 3 was accepted")
