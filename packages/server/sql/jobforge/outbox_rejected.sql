-- TruthCore refused the row for good (or it cannot be delivered): it is kept, never retried.
-- :id  bigint
update result_outbox set rejected_at = now(), attempts = attempts + 1 where id = :id
