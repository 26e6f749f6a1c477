-- How many events after a seq are not of one action: whether anything but checkpoints was appended since.
-- :after   bigint
-- :action  text
select count(*)::int as n from audit_events where seq > :after::bigint and action <> :action
