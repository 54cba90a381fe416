-- Tessera: PostgreSQL roles and ownership.
--
-- An operator runs this file as a superuser, connected to the database that
-- Tessera will use (create that database first, e.g. `CREATE DATABASE
-- tessera;`). The file can be run any number of times; each run brings the
-- roles back to the attributes below and resets their passwords.
--
--   export TESSERA_OWNER_PASSWORD=...    # password for tessera_owner
--   export TESSERA_RUNTIME_PASSWORD=...  # password for tessera
--   psql -h <host> -U postgres -d tessera -f deploy/postgres/roles.sql
--
-- Passwords are read from the environment of psql (needs psql 15 or newer)
-- so they never appear on a command line. They end up inside connection
-- URLs, so stick to URL-safe characters (for example `openssl rand -hex 32`).
-- If the server logs DDL statements (log_statement = 'ddl' or 'all'), the
-- ALTER ROLE ... PASSWORD statements below will show up in that log.
--
-- The roles:
--
--   tessera_owner  LOGIN. Owns the database, its public schema and every
--                  table. It is the role in DATABASE_MIGRATION_URL and runs
--                  `tessera migrate up`; the running server never uses it.
--
--   tessera        LOGIN, and nothing else: no superuser, no BYPASSRLS, cannot
--                  create databases or roles. The role in DATABASE_URL. It
--                  holds no table privileges of its own; it only gets
--                  membership in tessera_app.
--
--   tessera_app    Group role, NOT created here. The migrations create it
--                  (NOLOGIN NOSUPERUSER NOBYPASSRLS), grant it the table
--                  privileges it needs and attach the row-level security
--                  policies to it. The server runs `SET ROLE tessera_app` on
--                  every pooled connection (DATABASE_APP_ROLE), so all of its
--                  queries are checked by row-level security as tessera_app.
--
-- Because tessera_app only exists after the first migration, the order for a
-- new database is:
--
--   1. run this file            (creates tessera_owner and tessera)
--   2. tessera migrate up       (as tessera_owner; creates tessera_app)
--   3. run this file again      (now grants tessera_app to tessera)
--
-- The compose setup in deploy/compose.yaml does exactly these three steps.

\set ON_ERROR_STOP on

\getenv owner_password TESSERA_OWNER_PASSWORD
\getenv runtime_password TESSERA_RUNTIME_PASSWORD

\if :{?owner_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'TESSERA_OWNER_PASSWORD is not set in the environment of psql'; END $$;
\endif
\if :{?runtime_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'TESSERA_RUNTIME_PASSWORD is not set in the environment of psql'; END $$;
\endif

BEGIN;

-- Owner / migration role -----------------------------------------------------
-- CREATEROLE is there only so that the migrations can create the tessera_app
-- group role. If your migrations never need to create or alter roles after
-- the first run, you may remove it with `ALTER ROLE tessera_owner
-- NOCREATEROLE`.
SELECT 'CREATE ROLE tessera_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_owner')
\gexec
ALTER ROLE tessera_owner WITH
    LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB CREATEROLE NOREPLICATION
    PASSWORD :'owner_password';

-- Runtime login role ---------------------------------------------------------
SELECT 'CREATE ROLE tessera'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera')
\gexec
ALTER ROLE tessera WITH
    LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
    PASSWORD :'runtime_password';

-- Database and schema ownership -----------------------------------------------
-- The owner role owns the current database and its public schema, so
-- migrations can create tables there. Nobody else may create objects in the
-- schema, and only the two Tessera logins may connect.
SELECT format('ALTER DATABASE %I OWNER TO tessera_owner', current_database())
\gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database())
\gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO tessera_owner', current_database())
\gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO tessera', current_database())
\gexec

ALTER SCHEMA public OWNER TO tessera_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO tessera;

-- Membership in the application group role ------------------------------------
SELECT 'GRANT tessera_app TO tessera'
 WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_app')
\gexec

COMMIT;

SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tessera_app')
       AS app_role_missing
\gset
\if :app_role_missing
  \echo 'roles.sql: tessera_app does not exist yet. Run `tessera migrate up`, then run this file again to grant it to tessera.'
\else
  \echo 'roles.sql: done; tessera is a member of tessera_app.'
\endif
