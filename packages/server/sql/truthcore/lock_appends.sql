-- Serialises the appends of one tenant until the transaction ends, so seq values become visible in
-- order (see migration 005). Two-key advisory locks live in their own key space, apart from
-- single-bigint locks such as the migration lock; the class id 29795 (0x7463, "tc") names
-- TruthCore's per-tenant append lock.
-- :tenant_id  text
select pg_advisory_xact_lock(29795, hashtext(:tenant_id))
