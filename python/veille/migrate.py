"""Schema migrations (alembic), run against the database of veille.db."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from veille import db


def alembic_config() -> Config:
    root = db.project_root()
    cfg = Config(str(root / "alembic.ini"))
    cfg.set_main_option("script_location", str(root / "migrations"))
    return cfg


def upgrade(revision: str = "heads") -> None:
    """Bring the schema up to ``revision``."""
    command.upgrade(alembic_config(), revision)


def downgrade(revision: str) -> None:
    """Take the schema down to ``revision`` (``base`` removes everything)."""
    command.downgrade(alembic_config(), revision)


def current() -> str | None:
    """The revisions the database is at (one per branch head, comma-separated), or None."""
    import sqlalchemy as sa

    with db.engine().connect() as conn:
        exists = conn.execute(sa.text("select to_regclass('meta.alembic_version')")).scalar()
        if not exists:
            return None
        heads = conn.execute(sa.text("select version_num from meta.alembic_version order by 1")).scalars().all()
        return ", ".join(heads) or None
