-- `pending` jobs (waiting for something other than time: parents, a schedule slot) can expire
-- like queued and retrying ones (the state table in src/jobforge/job-states.ts); the expirer's
-- index covers every state its statement selects, or the planner could not use it.
drop index jobs_expiry_idx;
create index jobs_expiry_idx on jobs (expires_at) where status in ('pending', 'queued', 'retrying') and expires_at is not null;
