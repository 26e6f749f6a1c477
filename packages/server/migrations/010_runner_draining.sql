-- A runner that has begun to shut down is 'draining': it still heartbeats, completes and hands
-- back what it holds, but is given no new work — not even by a long-poll it opened before the
-- drain began and whose connection the server has not yet seen close. Registering again (the
-- runner restarted) makes it 'active'.
alter table runners drop constraint runners_status_check;
alter table runners add constraint runners_status_check check (status in ('enrolled', 'active', 'draining', 'revoked'));
