-- Puts the caller's data scope back after an append, so the rest of its transaction stays as
-- narrow as it was.
-- :scope  text  the scope lock_chain answered
select set_config('app.scope', :scope, true)
