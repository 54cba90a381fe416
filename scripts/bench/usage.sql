-- Usage for the platform's analytics (Q6): every tenant made calls on each of the last
-- 30 days (a few errors among them), as the meter's flushes would have left them in the
-- monthly rollups.
\set ON_ERROR_STOP on
TRUNCATE usage_tenant_monthly;
INSERT INTO usage_tenant_monthly (tenant_id, month, api_calls, errors, refused, last_day)
SELECT d.tenant_id, date_trunc('month', d.day)::date, sum(d.api_calls), sum(d.errors), 0, max(d.day)
FROM (SELECT t.id AS tenant_id, current_date - n AS day,
             50 + (abs(hashtext(t.id::text || n)) % 5000) AS api_calls, abs(hashtext(n || t.id::text)) % 20 AS errors
      FROM tenants AS t, generate_series(0, 29) AS n) AS d
GROUP BY d.tenant_id, date_trunc('month', d.day);
-- The bench's principals may read the platform's analytics.
UPDATE users SET is_platform_admin = true WHERE id IN (SELECT user_id FROM bench.principals);
VACUUM ANALYZE usage_tenant_monthly;
