-- GET /healthz (fcgi/api/health.c).

-- name: health_ping
-- One real round trip to the database.
SELECT 1;
