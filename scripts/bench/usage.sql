-- Usage for the platform's analytics (Q6): every tenant made calls on each of the last
-- 30 days (a few errors among them), as the meter's flushes would have left them.
\set ON_ERROR_STOP on
TRUNCATE usage_tenant_daily;
INSERT INTO usage_tenant_daily (tenant_id, day, api_calls, errors, refused)
SELECT t.id, current_date - d, 50 + (abs(hashtext(t.id::text || d)) % 5000), abs(hashtext(d || t.id::text)) % 20, 0
FROM tenants AS t, generate_series(0, 29) AS d;
-- The bench's principals may read the platform's analytics.
UPDATE users SET is_platform_admin = true WHERE id IN (SELECT user_id FROM bench.principals);
VACUUM ANALYZE usage_tenant_daily;
