-- Leases the jobs the statement's `picked` CTE chose and locked: a new lease id and fencing token,
-- the attempt opened and job.started recorded, and each keyed lease added to its slot's holders,
-- all in the same statement. The answer has one leading row whose runner_may_claim says whether
-- the guard held (with it false nothing was leased) and whose key_waiting lists the candidates
-- left waiting for their concurrency key.
-- :runner_id  text  the claiming runner
-- :lease_ms   int   how long the lease lasts before a heartbeat must extend it
leased as (
  update jobs j set status = @to(lease), attempts = j.attempts + 1, lease_id = gen_random_uuid(),
         lease_runner_id = :runner_id, lease_expires_at = now() + make_interval(secs => :lease_ms::double precision / 1000),
         fencing_token = nextval('job_fencing_seq'), updated_at = now()
    from picked p where j.tenant_id = p.tenant_id and j.id = p.id
  returning j.tenant_id, j.id, j.type, j.pool, j.priority, j.status, j.request, j.request_digest, j.attempts, j.retry_base,
            j.run_at, j.expires_at, j.timeout_ms, j.lease_id, j.lease_runner_id, j.lease_expires_at, j.fencing_token,
            j.cancel_requested_at, j.result, j.error, j.dead_lettered_at, j.submitted_by, j.created_at, j.updated_at, j.finished_at,
            j.trace_parent, j.concurrency_key
), holders as (
  update concurrency_slots s
     set holders = coalesce((select jsonb_agg(jsonb_build_object('job_id', l.job_id, 'token', l.token))
                               from live l where l.type = s.type and l.key = s.key), '[]'::jsonb)
                || coalesce((select jsonb_agg(jsonb_build_object('job_id', le.id, 'token', le.fencing_token))
                               from leased le where le.type = s.type and le.concurrency_key = s.key), '[]'::jsonb)
    from slots x
   where s.tenant_id = :tenant_id and s.type = x.type and s.key = x.key
), attempts as (
  -- clock_timestamp, not now(): now() is when the statement arrived, before its snapshot was
  -- taken, and an attempt's start must not read as earlier than the end of an attempt whose place
  -- (of a concurrency key) it took.
  insert into job_attempts (tenant_id, job_id, attempt, runner_id, lease_id, fencing_token, started_at)
  select tenant_id, id, attempts, lease_runner_id, lease_id, fencing_token, clock_timestamp() from leased
), started as (
  insert into job_events (id, tenant_id, job_id, type, data)
  select gen_random_uuid(), tenant_id, id, 'job.started',
         jsonb_build_object('status', status, 'attempt', attempts, 'runnerId', lease_runner_id)
    from leased
)
select g.ok as runner_may_claim, (select ids from key_waiting) as key_waiting, l.*
  from guard g left join leased l on true
 order by l.priority desc, l.run_at, l.id
