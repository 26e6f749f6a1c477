-- Takes the chain lock inside the caller's transaction, and answers the caller's data scope (to be
-- put back once the append, which needs the system's, is done).
select
-- @include chain_lock
       , current_setting('app.scope', true) as scope
