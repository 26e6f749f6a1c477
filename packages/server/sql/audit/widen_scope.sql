-- Widens the data scope to the system's until the transaction ends: the chain head is the newest
-- event of any tenant, which the caller's scope may not see.
select set_config('app.scope', 'system', true)
