-- Whether autovacuum is on, and the statistics refresh lock, tried without waiting: one replica
-- refreshes at a time. The key is "cpstats" in ASCII (0x63707374617473). Taking the transaction-
-- level lock when there is nothing to do costs nothing: it goes with the transaction.
select current_setting('autovacuum')::boolean as autovacuum, pg_try_advisory_xact_lock(27989663870448755::bigint) as got
