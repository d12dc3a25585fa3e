"""Database roles: veille_loader, veille_engineer, veille_analyst (docs/security.md).

Revision ID: 0010_roles
Revises: 0006_fraud, 0007_comparator_exclusions, 0008_scan_latent_calibrated, 0009_pathways_mixture
Create Date: 2026-11-30

Merges the four branches: the grants cover every schema they made.

* ``veille_loader`` writes ``claims``, ``ref`` and the load log ``meta``; it may create schemas
  (the loader makes and drops its scratch schemas ``load_landing`` and ``load_work``) and set
  ``session_replication_role`` (the loader's bulk mode, superuser-only otherwise).
* ``veille_engineer`` reads ``claims``, ``ref``, ``meta``; writes the study registry (``study``)
  and the results (``results``); owns the schemas dbt builds in (created here when missing,
  given to it with everything in them when a build already made them) and may create others.
* ``veille_analyst`` reads the published dbt schemas (``marts``, ``scan``, ``pathways``,
  ``fraud``, ``seeds``) and ``results``, nothing else: no ``claims`` (so no ``ben_nir_psa``),
  no ``staging``/``intermediate``, no write anywhere.

Roles are cluster-wide, grants are per database: the roles are created if missing (another
database of the server may have made them already), the grants are made in this database.
Group roles, NOLOGIN: an administrator grants them to login users. Creating roles and giving
objects to them needs a superuser; run by a user who is not one, the migration only says so
(a notice) and veille keeps running every command as that user, as before.

Downgrade revokes everything in this database (objects the roles own go back to the migrating
user) and drops a role only when no other database uses it and nobody was granted it.
"""

from alembic import op

revision = "0010_roles"
down_revision = ("0006_fraud", "0007_comparator_exclusions", "0008_scan_latent_calibrated",
                 "0009_pathways_mixture")
branch_labels = None
depends_on = None

UPGRADE = r"""
do $roles$
declare
    r text;
    s text;
    obj record;
begin
    if not (select rolsuper from pg_roles where rolname = current_user) then
        raise notice 'veille roles not set up: % is not a superuser (docs/security.md)', current_user;
        return;
    end if;

    foreach r in array array['veille_loader', 'veille_engineer', 'veille_analyst'] loop
        if not exists (select from pg_roles where rolname = r) then
            begin
                execute format('create role %I nologin', r);
            exception when duplicate_object or unique_violation then
                null;  -- created meanwhile by a migration of another database
            end;
        end if;
    end loop;
    comment on role veille_loader is 'veille: writes claims, ref and the load log meta (docs/security.md)';
    comment on role veille_engineer is 'veille: reads claims, ref, meta; owns the dbt schemas; writes study and results';
    comment on role veille_analyst is 'veille: reads the published marts and results only';

    -- ---------------------------------------------------------------- loader
    grant usage on schema claims, ref, meta to veille_loader;
    grant select, insert, update, delete, truncate on all tables in schema claims, ref, meta to veille_loader;
    grant usage, select, update on all sequences in schema claims, ref, meta to veille_loader;
    alter default privileges in schema claims, ref, meta
        grant select, insert, update, delete, truncate on tables to veille_loader;
    alter default privileges in schema claims, ref, meta
        grant usage, select, update on sequences to veille_loader;
    if current_setting('server_version_num')::int >= 170000 then  -- analyze after a load
        execute 'grant maintain on all tables in schema claims, ref, meta to veille_loader';
        execute 'alter default privileges in schema claims, ref, meta grant maintain on tables to veille_loader';
    end if;
    execute 'grant set on parameter session_replication_role to veille_loader';
    execute format('grant create on database %I to veille_loader', current_database());

    -- ---------------------------------------------------------------- engineer
    grant usage on schema claims, ref, meta, study, results to veille_engineer;
    grant select on all tables in schema claims, ref, meta to veille_engineer;
    alter default privileges in schema claims, ref, meta grant select on tables to veille_engineer;
    grant select, insert, update, delete on all tables in schema study, results to veille_engineer;
    grant usage, select, update on all sequences in schema study, results to veille_engineer;
    alter default privileges in schema study, results
        grant select, insert, update, delete on tables to veille_engineer;
    alter default privileges in schema study, results
        grant usage, select, update on sequences to veille_engineer;
    execute format('grant create on database %I to veille_engineer', current_database());

    -- the schemas dbt builds in (dbt_project.yml, models/*): the engineer's, with their contents
    foreach s in array array['staging', 'intermediate', 'marts', 'seeds', 'scan', 'pathways', 'fraud'] loop
        if not exists (select from pg_namespace where nspname = s) then
            execute format('create schema %I authorization veille_engineer', s);
            continue;
        end if;
        execute format('alter schema %I owner to veille_engineer', s);
        for obj in
            select c.relname, c.relkind from pg_class c
            where c.relnamespace = s::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
              and not exists (select from pg_depend d  -- identity and serial sequences follow their table
                              where d.classid = 'pg_class'::regclass and d.objid = c.oid
                                and d.deptype in ('a', 'i') and d.refclassid = 'pg_class'::regclass)
        loop
            execute format('alter %s %I.%I owner to veille_engineer',
                           case obj.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                            when 'f' then 'foreign table' when 'S' then 'sequence'
                                            else 'table' end, s, obj.relname);
        end loop;
    end loop;

    -- ---------------------------------------------------------------- analyst
    grant usage on schema results, marts, scan, pathways, fraud, seeds to veille_analyst;
    grant select on all tables in schema results, marts, scan, pathways, fraud, seeds to veille_analyst;
    alter default privileges in schema results grant select on tables to veille_analyst;
    alter default privileges for role veille_engineer in schema marts, scan, pathways, fraud, seeds
        grant select on tables to veille_analyst;
end
$roles$;
"""

DOWNGRADE = r"""
do $roles$
declare
    r text;
begin
    if not (select rolsuper from pg_roles where rolname = current_user) then
        return;
    end if;
    foreach r in array array['veille_analyst', 'veille_engineer', 'veille_loader'] loop
        continue when not exists (select from pg_roles where rolname = r);
        execute format('reassign owned by %I to %I', r, current_user);
        execute format('drop owned by %I', r);  -- in this database: grants and default privileges
        if exists (select from pg_auth_members m join pg_roles g on g.oid = m.roleid where g.rolname = r) then
            raise notice 'role % kept: it is granted to users', r;
            continue;
        end if;
        begin
            execute format('drop role %I', r);
        exception when dependent_objects_still_exist then
            raise notice 'role % kept: other databases of this server use it', r;
        end;
    end loop;
end
$roles$;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
