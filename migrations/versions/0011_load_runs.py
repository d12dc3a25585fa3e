"""The load log records every load, also one that never finished (killed, crashed).

Revision ID: 0011_load_runs
Revises: 0010_roles
Create Date: 2026-12-04

``meta.load_run``: one row per `veille load`, written and committed as the load starts
(``running``), set to ``done`` in the load's own transaction (so ``done`` and the claims commit
together), to ``failed`` with the error when it stops on bad input, and to ``interrupted`` by the
next load when it finds a ``running`` row that nobody runs any more (the load was killed: its
transaction, and so everything it wrote, was rolled back). ``meta.load_batch.run_id`` names the
load that wrote each file. The roles get their rights on the new table from the default
privileges of 0010_roles.
"""

from alembic import op

revision = "0011_load_runs"
down_revision = "0010_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table meta.load_run (
            run_id       bigserial primary key,
            extract_dir  text not null,
            started_at   timestamptz not null default now(),
            finished_at  timestamptz,
            status       text not null default 'running'
                         check (status in ('running', 'done', 'failed', 'interrupted')),
            files_loaded int,
            files_skipped int,
            message      text
        );
        comment on table meta.load_run is
          'Every veille load: running (started, not finished), done, failed (bad input, nothing kept) '
          'or interrupted (killed or crashed, nothing kept; found by the next load).';
        alter table meta.load_batch add column run_id bigint references meta.load_run (run_id);
        """
    )


def downgrade() -> None:
    op.execute("alter table meta.load_batch drop column run_id; drop table meta.load_run;")
