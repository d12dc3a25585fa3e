"""Database roles (migration 0010_roles, docs/security.md): each role connects and is refused,
with PostgreSQL's own message, what it must not do; and does what its job needs."""

from __future__ import annotations

import contextlib
import uuid

import psycopg
import pytest
import sqlalchemy as sa
from veille import db, migrate

PARENTS = ("0006_fraud", "0007_comparator_exclusions", "0008_scan_latent_calibrated", "0009_pathways_mixture")
PUBLISHED = ("marts", "scan", "pathways", "fraud", "seeds", "results")  # what the analyst may read
DBT_SCHEMAS = ("staging", "intermediate", "marts", "seeds", "scan", "pathways", "fraud")


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()


def refusal(role: str, statement: str) -> str:
    """PostgreSQL's message when ``role`` runs ``statement`` (nothing is kept either way)."""
    with db.raw_connection(role=role) as conn:
        assert conn.execute("select current_user").fetchone()[0] == role
        try:
            conn.execute(statement)
        except psycopg.Error as exc:
            return exc.diag.message_primary
        finally:
            conn.rollback()
    raise AssertionError(f"{role} was allowed: {statement}")


def run_as(role: str, *statements: str) -> list:
    """Run ``statements`` as ``role`` and commit; the rows of the last one (or None)."""
    with db.raw_connection(role=role) as conn:
        assert conn.execute("select current_user").fetchone()[0] == role
        cur = None
        for s in statements:
            cur = conn.execute(s)
        rows = cur.fetchall() if cur is not None and cur.description else None
        conn.commit()
    return rows


PATIENT = "insert into claims.patient (ben_nir_psa, ben_rng_gem, sex) values ('X1', 1, 1)"


@pytest.fixture()
def roles_db(migrated_db):
    """A migrated database with one mart table built by the engineer (as dbt would) and a patient."""
    run_as(db.ENGINEER, "create table marts.fct_demo (patient_id bigint, n integer)",
           "insert into marts.fct_demo values (1, 12)")
    with db.engine().begin() as conn:
        conn.execute(sa.text(PATIENT))
    return migrated_db


ANALYST_REFUSED = {
    "select ben_nir_psa from claims.patient": "permission denied for schema claims",
    "select patient_id from claims.patient": "permission denied for schema claims",
    "select * from meta.load_batch": "permission denied for schema meta",
    "select * from study.cohort_definition": "permission denied for schema study",
    "select * from staging.stg_claims__patients": "permission denied for schema staging",
    "insert into marts.fct_demo values (2, 1)": "permission denied for table fct_demo",
    "update marts.fct_demo set n = 0": "permission denied for table fct_demo",
    "delete from marts.fct_demo": "permission denied for table fct_demo",
    "truncate marts.fct_demo": "permission denied for table fct_demo",
    "drop table marts.fct_demo": "must be owner of table fct_demo",
    "alter table marts.fct_demo add column x int": "must be owner of table fct_demo",
    "create table marts.x (a int)": "permission denied for schema marts",
    "create view scan.x as select 1": "permission denied for schema scan",
    "create table results.x (a int)": "permission denied for schema results",
    "delete from results.run": "permission denied for table run",
    "drop table results.signal": "must be owner of table signal",
    "create table public.x (a int)": "permission denied for schema public",
}
LOADER_REFUSED = {
    "create table marts.x (a int)": "permission denied for schema marts",
    "create view staging.x as select 1": "permission denied for schema staging",
    "drop table marts.fct_demo": "permission denied for schema marts",
    "select * from marts.fct_demo": "permission denied for schema marts",
    "delete from study.cohort_definition": "permission denied for schema study",
    "select * from results.run": "permission denied for schema results",
    "drop table claims.patient": "must be owner of table patient",
    "alter table claims.patient add column x int": "must be owner of table patient",
}
ENGINEER_REFUSED = {
    PATIENT.replace("X1", "X3"): "permission denied for table patient",
    "update claims.patient set sex = 2": "permission denied for table patient",
    "delete from claims.dispensing": "permission denied for table dispensing",
    "truncate claims.patient": "permission denied for table patient",
    "drop table claims.patient": "must be owner of table patient",
    "delete from ref.drug": "permission denied for table drug",
    "delete from meta.load_batch": "permission denied for table load_batch",
    "create table claims.x (a int)": "permission denied for schema claims",
    "set session_replication_role = replica": 'permission denied to set parameter "session_replication_role"',
}


def refusals(role: str, statements: dict[str, str]) -> dict[str, str]:
    return {s: refusal(role, s) for s in statements}


def test_analyst_is_refused_identifiers_and_every_write(roles_db):
    assert refusals(db.ANALYST, ANALYST_REFUSED) == ANALYST_REFUSED
    assert refusal(db.ANALYST, "create schema x") == f"permission denied for database {roles_db}"


def test_analyst_reads_marts_and_results(roles_db):
    assert run_as(db.ANALYST, "select patient_id, n from marts.fct_demo") == [(1, 12)]
    assert run_as(db.ANALYST, "select count(*) from results.run") == [(0,)]


def test_loader_writes_claims_and_the_load_log_only(roles_db):
    lo = db.LOADER
    assert refusals(lo, LOADER_REFUSED) == LOADER_REFUSED
    # what a load does: claims and meta rows, its scratch schemas, the bulk mode
    run_as(lo, "insert into claims.patient (ben_nir_psa, ben_rng_gem, sex) values ('X2', 1, 2)",
           "update claims.patient set sex = 1 where ben_nir_psa = 'X2'",
           "insert into meta.load_batch (extract_dir, file_name, table_name, checksum, rows_read, rows_loaded,"
           " rows_rejected, started_at, finished_at, seconds) values ('d', 'f', 't', repeat('0', 64), 1, 1, 0,"
           " now(), now(), 0)",
           "insert into ref.icd10 values ('Z999', 'test')",
           "create schema load_work", "create unlogged table load_work.t (a int)", "drop schema load_work cascade")
    assert run_as(lo, "set local session_replication_role = replica", "show session_replication_role") == \
        [("replica",)]
    assert run_as(lo, "select count(*) from claims.patient") == [(2,)]
    assert run_as(lo, "select count(*) from meta.load_batch") == [(1,)]


def test_engineer_reads_claims_and_cannot_write_them(roles_db):
    assert refusals(db.ENGINEER, ENGINEER_REFUSED) == ENGINEER_REFUSED
    assert run_as(db.ENGINEER, "select ben_nir_psa from claims.patient") == [("X1",)]


def test_engineer_builds_a_model_the_analyst_cannot_see(roles_db):
    from veille.dbt import run_dbt

    run_dbt(["run", "--select", "stg_claims__patients", "--quiet"])
    with db.engine().connect() as conn:
        owner = conn.execute(sa.text("select pg_get_userbyid(relowner) from pg_class "
                                     "where oid = 'staging.stg_claims__patients'::regclass")).scalar()
    assert owner == db.ENGINEER
    assert run_as(db.ENGINEER, "select count(*) from staging.stg_claims__patients") == [(1,)]
    assert refusal(db.ANALYST, "select * from staging.stg_claims__patients") == \
        "permission denied for schema staging"


def test_commands_pick_their_role(roles_db):
    with db.engine(db.ANALYST).connect() as conn:
        assert conn.execute(sa.text("select current_user, session_user")).one() == (db.ANALYST, "postgres")
        conn.rollback()  # a rolled-back transaction does not undo the startup role
        assert conn.execute(sa.text("select current_user")).scalar() == db.ANALYST
    from veille.dbt import dbt_env

    assert "-c role=veille_engineer" in dbt_env()["PGOPTIONS"]


def test_a_database_without_the_roles_keeps_the_login_user(empty_db):
    """Not migrated (or migrated by a user who could not set the roles up): no role switch."""
    assert db.usable_role(db.ANALYST) is None
    with db.engine(db.ANALYST).connect() as conn:
        assert conn.execute(sa.text("select current_user")).scalar() == "postgres"


@contextlib.contextmanager
def logged_in(user: str, database: str, monkeypatch):
    """veille.db pointed at ``database`` as ``user`` (trust auth on the embedded server's socket),
    through VEILLE_DATABASE_URL as a user of one's own server would."""
    s = db.settings()
    monkeypatch.setenv("VEILLE_DATABASE_URL", f"postgresql://{user}@/{database}?host={s.host}&port={s.port}")
    db.reset_cache()
    try:
        yield
    finally:
        monkeypatch.delenv("VEILLE_DATABASE_URL")
        db.reset_cache()


@pytest.fixture()
def login_user(roles_db, monkeypatch):
    """A login user granted veille_analyst only, as docs/security.md tells an administrator,
    selected through VEILLE_DATABASE_URL; dropped at the end (roles are cluster-wide)."""
    name = "t_alice_" + uuid.uuid4().hex[:8]
    with db.engine().begin() as conn:
        conn.execute(sa.text(f"create role {name} login"))
        conn.execute(sa.text(f"grant veille_analyst to {name}"))
    try:
        with logged_in(name, roles_db, monkeypatch):
            yield name
    finally:
        with db.engine().begin() as conn:
            conn.execute(sa.text(f"drop role {name}"))


def test_a_login_user_acts_as_the_roles_granted_to_it_only(login_user):
    assert db.usable_role(db.ANALYST) == db.ANALYST
    assert db.usable_role(db.ENGINEER) is None
    with db.engine(db.ANALYST).connect() as conn:
        assert conn.execute(sa.text("select current_user")).scalar() == db.ANALYST
        assert conn.execute(sa.text("select n from marts.fct_demo")).scalar() == 12
    # not a member of veille_engineer: the command runs as the user, who is refused by PostgreSQL
    with db.engine(db.ENGINEER).connect() as conn:
        assert conn.execute(sa.text("select current_user")).scalar() == login_user
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied for schema claims"):
            conn.execute(sa.text("select count(*) from claims.patient"))


def test_upgrade_gives_an_earlier_build_to_the_engineer_and_downgrade_takes_it_back(empty_db):
    for parent in PARENTS:
        migrate.upgrade(parent)
    with db.engine().begin() as conn:  # what a dbt build as the login user left before 0010
        conn.execute(sa.text("create schema marts"))
        conn.execute(sa.text("create table marts.fct_old (patient_id bigint)"))
        conn.execute(sa.text("create view marts.fct_old_v as select * from marts.fct_old"))
    migrate.upgrade("heads")
    owners = _owners()
    assert owners["marts"] == owners["marts.fct_old"] == owners["marts.fct_old_v"] == db.ENGINEER
    assert {owners[s] for s in DBT_SCHEMAS} == {db.ENGINEER}
    assert run_as(db.ANALYST, "select count(*) from marts.fct_old_v") == [(0,)]
    run_as(db.ENGINEER, "drop view marts.fct_old_v")  # dbt replaces what it owns

    migrate.downgrade("0009_pathways_mixture")  # undoes 0010_roles only (a merge: "-1" is ambiguous)
    owners = _owners()
    assert {owners[s] for s in DBT_SCHEMAS} | {owners["marts.fct_old"]} == {"postgres"}
    with db.engine().connect() as conn:
        granted = conn.execute(sa.text(
            "select count(*) from pg_namespace n, pg_roles r where r.rolname like 'veille\\_%' "
            "and (has_schema_privilege(r.oid, n.oid, 'USAGE') or has_schema_privilege(r.oid, n.oid, 'CREATE')) "
            "and n.nspname not in ('public', 'pg_catalog', 'information_schema')")).scalar()
        default_acls = conn.execute(sa.text("select count(*) from pg_default_acl")).scalar()
    assert (granted, default_acls) == (0, 0)
    migrate.upgrade("heads")  # and back
    assert _owners()["marts.fct_old"] == db.ENGINEER


def _owners() -> dict[str, str]:
    with db.engine().connect() as conn:
        rows = conn.execute(sa.text(
            "select nspname, pg_get_userbyid(nspowner) from pg_namespace union all "
            "select n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'marts'")).all()
    return dict(rows)


# --------------------------------------------------------------------------- the built warehouse


def test_the_warehouse_was_built_by_the_engineer(warehouse):
    with db.engine().connect() as conn:
        owners = conn.execute(sa.text(
            "select distinct pg_get_userbyid(c.relowner) from pg_class c join pg_namespace n "
            "on n.oid = c.relnamespace where n.nspname = any(:s) and c.relkind in ('r', 'v', 'm')"),
            {"s": list(DBT_SCHEMAS)}).scalars().all()
    assert owners == [db.ENGINEER]
    assert run_as(db.ANALYST, "select count(*) > 0 from marts.fct_observation_periods") == [(True,)]
    assert run_as(db.ANALYST, "select count(*) > 0 from marts.fct_drug_episodes") == [(True,)]


def test_no_relation_the_analyst_reads_exposes_a_pseudonymous_identifier(warehouse):
    """By name (no BEN_NIR_PSA, NIR_ANO_17, BEN_NIR_ANO column) and by value (no text column of a
    readable table or view holds a patient's BEN_NIR_PSA)."""
    pattern = "(ben_nir|nir_ano)"
    named = ("select table_schema || '.' || table_name || '.' || column_name from information_schema.columns "
             f"where column_name ~* '{pattern}' order by 1")
    with db.engine().connect() as conn:
        assert "claims.patient.ben_nir_psa" in conn.execute(sa.text(named)).scalars().all()
    assert run_as(db.ANALYST, named) == []
    columns = run_as(db.ANALYST, (
        "select table_schema, table_name, column_name from information_schema.columns "
        "where data_type in ('text', 'character varying', 'character') "
        f"and table_schema in ({', '.join(repr(s) for s in PUBLISHED)}) order by 1, 2, 3"))
    assert len(columns) > 20
    with db.engine().connect() as conn:
        def holds_pseudonym(schema: str, table: str, column: str) -> bool:
            return conn.execute(sa.text(
                f'select exists (select 1 from "{schema}"."{table}" x join claims.patient p '
                f'on x."{column}"::text = p.ben_nir_psa)')).scalar()

        assert holds_pseudonym("claims", "patient", "ben_nir_psa")  # the check sees one
        assert [".".join(c) for c in columns if holds_pseudonym(*c)] == []


def test_a_user_who_is_not_a_superuser_migrates_without_roles_and_runs_as_itself(pg_server, monkeypatch):
    """VEILLE_DATABASE_URL naming a plain user who owns its database: the migrations apply, the
    roles are not set up there (0010 needs a superuser), every command runs as that user."""
    name = "t_bob_" + uuid.uuid4().hex[:8]
    admin = db.admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f"create role {name} login"))
        conn.execute(sa.text(f"create database {name} owner {name}"))
    try:
        with logged_in(name, name, monkeypatch):
            migrate.upgrade("heads")
            assert migrate.current() == head()
            assert db.roles_set_up() == []
            assert db.usable_role(db.ANALYST) is None
            with db.engine(db.ANALYST).connect() as conn:
                assert conn.execute(sa.text("select current_user")).scalar() == name
                assert conn.execute(sa.text("select count(*) from claims.patient")).scalar() == 0
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"drop database if exists {name} with (force)"))
            conn.execute(sa.text(f"drop role {name}"))
        admin.dispose()
