-- TruthCore acknowledged these rows (recorded, or duplicates of what it holds).
-- :ids  bigint[]
update result_outbox set delivered_at = now(), attempts = attempts + 1, last_error = null where id = any(:ids::bigint[])
