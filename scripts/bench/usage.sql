-- Usage for the platform's analytics (Q6): every tenant made calls on each of the last
-- 30 days (a few errors among them), as the meter's flushes would have left them.
\set ON_ERROR_STOP on
TRUNCATE usage_tenant_daily, usage_tenant_monthly;
INSERT INTO usage_tenant_daily (tenant_id, day, api_calls, errors, refused)
SELECT t.id, current_date - d, 50 + (abs(hashtext(t.id::text || d)) % 5000), abs(hashtext(d || t.id::text)) % 20, 0
FROM tenants AS t, generate_series(0, 29) AS d;
-- The monthly rollups the flush keeps next to the daily ones.
INSERT INTO usage_tenant_monthly (tenant_id, month, api_calls, errors, refused, last_day)
SELECT tenant_id, date_trunc('month', day)::date, sum(api_calls), sum(errors), sum(refused), max(day)
FROM usage_tenant_daily GROUP BY tenant_id, date_trunc('month', day);
-- The bench's principals may read the platform's analytics.
UPDATE users SET is_platform_admin = true WHERE id IN (SELECT user_id FROM bench.principals);
VACUUM ANALYZE usage_tenant_daily;
VACUUM ANALYZE usage_tenant_monthly;
