-- Benchmark data, set-based: `psql -v tenants=1000 -v users=100000 -f seed.sql` on a
-- freshly migrated, empty database. Every tenant gets 4 roles (about 8 permissions
-- each) and 5 workspaces of about 20 members; every user belongs to 1–3 tenants.
-- Identifiers of tenants and users are derived from their number, so pgbench and the
-- token minter can name them without a lookup.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

CREATE SCHEMA IF NOT EXISTS bench;
CREATE OR REPLACE FUNCTION bench.id(kind int, n bigint) RETURNS uuid
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (lpad(to_hex(kind), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(n), 12, '0'))::uuid $$;

-- kind 1: tenants
INSERT INTO tenants (id, slug, name, status, plan, created_at, updated_at)
SELECT bench.id(1, n), 'bench-' || n, 'Bench tenant ' || n, 'active',
       CASE WHEN n % 10 = 0 THEN 'team' ELSE 'free' END,
       now() - make_interval(secs => n), now() - make_interval(secs => n)
FROM generate_series(1, :tenants) AS n;

-- kind 2: users (the password hash is a placeholder: the bench mints tokens, nobody logs in)
INSERT INTO users (id, email, display_name, password_hash, email_verified_at, created_at, updated_at)
SELECT bench.id(2, n), 'user' || n || '@bench.test', 'Bench user ' || n, '!bench-no-password',
       now(), now() - make_interval(secs => n), now() - make_interval(secs => n)
FROM generate_series(1, :users) AS n;

INSERT INTO onboarding_progress (user_id, stage, version, started_at, updated_at, completed_at)
SELECT id, 'completed', 1, created_at, created_at, created_at FROM users WHERE email LIKE '%@bench.test';

-- kinds 10..13: the four roles of every tenant, with their permissions
INSERT INTO roles (tenant_id, id, name, system_key, created_at, updated_at)
SELECT bench.id(1, t), bench.id(10 + r.k, t), r.name, r.system_key, now(), now()
FROM generate_series(1, :tenants) AS t,
     (VALUES (0, 'Owner', 'owner'), (1, 'Admin', 'admin'), (2, 'Member', 'member'),
             (3, 'Workspace lead', NULL)) AS r(k, name, system_key);

INSERT INTO role_permissions (tenant_id, role_id, permission)
SELECT bench.id(1, t), bench.id(10 + p.k, t), p.permission
FROM generate_series(1, :tenants) AS t,
     (SELECT 0 AS k, unnest(ARRAY['tenant:update', 'members:read', 'members:invite', 'members:manage',
                                 'roles:manage', 'workspaces:create', 'workspaces:manage', 'api_keys:manage',
                                 'audit:read', 'webhooks:manage', 'billing:manage']) AS permission
      UNION ALL
      SELECT 1, unnest(ARRAY['tenant:update', 'members:read', 'members:invite', 'members:manage', 'roles:manage',
                             'workspaces:create', 'workspaces:manage', 'api_keys:manage', 'audit:read',
                             'webhooks:manage'])
      UNION ALL
      SELECT 2, unnest(ARRAY['members:read', 'workspaces:create'])
      UNION ALL
      SELECT 3, unnest(ARRAY['members:read', 'members:invite', 'workspaces:create', 'workspaces:manage',
                             'api_keys:manage', 'audit:read', 'webhooks:manage', 'tenant:update'])) AS p;

-- Memberships: user u joins 1 + u % 3 tenants; the first spreads users evenly.
-- Roles: 1 in 20 owner, 3 in 20 admin, 4 in 20 workspace lead, the rest member.
INSERT INTO memberships (tenant_id, id, user_id, role_id, status, created_at, updated_at)
SELECT bench.id(1, t), gen_random_uuid(), bench.id(2, u),
       bench.id(10 + CASE WHEN (u + k) % 20 = 0 THEN 0 WHEN (u + k) % 20 < 4 THEN 1
                          WHEN (u + k) % 20 < 8 THEN 3 ELSE 2 END, t),
       'active', now() - make_interval(secs => u), now() - make_interval(secs => u)
FROM generate_series(1, :users) AS u,
     LATERAL generate_series(0, u % 3) AS k,
     LATERAL (SELECT CASE k WHEN 0 THEN (u - 1) % :tenants + 1
                            WHEN 1 THEN (u::bigint * 7919 + 13) % :tenants + 1
                            ELSE (u::bigint * 104729 + 71) % :tenants + 1 END AS t) AS pick
ON CONFLICT (tenant_id, user_id) DO NOTHING;

-- kinds 20..24: five workspaces per tenant
INSERT INTO workspaces (tenant_id, id, slug, name, created_at, updated_at)
SELECT bench.id(1, t), bench.id(20 + w, t), 'workspace-' || w, 'Workspace ' || w,
       now() - make_interval(secs => 10 - w), now() - make_interval(secs => 10 - w)
FROM generate_series(1, :tenants) AS t, generate_series(0, 4) AS w;

-- About 20 members in each workspace: the tenant's members in a fixed order, 20 apiece.
INSERT INTO workspace_members (tenant_id, id, workspace_id, user_id, role_id, created_at)
SELECT m.tenant_id, gen_random_uuid(),
       (lpad(to_hex(20 + (m.rn - 1) / 20), 8, '0') || substr(m.tenant_id::text, 9))::uuid,
       m.user_id, m.role_id, m.created_at
FROM (SELECT tenant_id, user_id, role_id, created_at,
             row_number() OVER (PARTITION BY tenant_id ORDER BY created_at DESC, user_id) AS rn
      FROM memberships) AS m
WHERE m.rn <= 100;

-- As long-lived data would be: visibility map and hint bits set, statistics fresh.
VACUUM ANALYZE;
