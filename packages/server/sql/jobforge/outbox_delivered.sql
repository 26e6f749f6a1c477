-- TruthCore acknowledged the row (recorded, or a duplicate of what it holds).
-- :id  bigint
update result_outbox set delivered_at = now(), attempts = attempts + 1, last_error = null where id = :id
