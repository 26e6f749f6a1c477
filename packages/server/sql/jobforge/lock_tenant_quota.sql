-- Serialises the queued-jobs quota checks of one tenant (on every replica) until the transaction
-- ends: the count that follows, in a statement of its own (so its snapshot is taken after the lock
-- is held), sees every earlier submission of the tenant.
-- :tenant_id  text
select pg_advisory_xact_lock(hashtext('cp.tenant_quota'), hashtext(:tenant_id))
