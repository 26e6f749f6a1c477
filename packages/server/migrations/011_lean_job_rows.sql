-- Every job writes, besides its own row, four events, an attempt and an outbox row; these are
-- the cheapest rows to make cheaper.
--
-- Their foreign keys to jobs cost a look-up of the job for every row (seven per job) and guard
-- against nothing the writes cannot: each such row is inserted by the same statement that
-- inserts or updates its job, from that job's row (see job-store.ts), and jobs are never deleted.
alter table job_events drop constraint job_events_tenant_id_job_id_fkey;
alter table job_attempts drop constraint job_attempts_tenant_id_job_id_fkey;
alter table result_outbox drop constraint result_outbox_tenant_id_job_id_fkey;

-- Events are read per job in seq order and never by seq alone: the per-job index becomes the
-- primary key (seq is unique by itself, so the triple is too) and each event is one index entry
-- instead of two.
alter table job_events drop constraint job_events_pkey;
drop index job_events_job_idx;
alter table job_events add primary key (tenant_id, job_id, seq);
