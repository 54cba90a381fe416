-- A sample of memberships to act as (`-v principals=4000`): each gets a live session,
-- and one line `user tenant session role` is printed for the token minter.
\set ON_ERROR_STOP on
DROP TABLE IF EXISTS bench.principals;
CREATE TABLE bench.principals AS
SELECT m.user_id, m.tenant_id, gen_random_uuid() AS session_id, r.system_key AS role
FROM memberships AS m JOIN roles AS r ON r.tenant_id = m.tenant_id AND r.id = m.role_id
ORDER BY random()
LIMIT :principals;

INSERT INTO sessions (id, user_id, current_tenant_id, refresh_token_hash, created_at, expires_at)
SELECT session_id, user_id, tenant_id, 'bench-' || session_id, now(), now() + interval '1 day'
FROM bench.principals;

\pset format unaligned
\pset tuples_only on
\pset fieldsep ' '
\o :out
SELECT user_id, tenant_id, session_id, coalesce(role, 'lead') FROM bench.principals;
\o
