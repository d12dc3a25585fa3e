"""Alembic environment: the database comes from veille.db, like dbt's and SQLAlchemy's."""

from alembic import context
from veille import db

config = context.config


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        context.configure(connection=connectable, version_table_schema="meta")
        with context.begin_transaction():
            context.run_migrations()
        return
    with db.engine().connect() as connection:
        connection.exec_driver_sql("create schema if not exists meta")
        connection.commit()
        context.configure(connection=connection, version_table_schema="meta")
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported")
run_migrations_online()
