-- Narrows the statement's `cand` CTE (locked candidate jobs: tenant_id, id, type, concurrency_key,
-- priority, run_at) to `picked`: every job without a concurrency key, and of each key only as many
-- as its limit leaves free. The key's slot row is locked without waiting (a key another lessor is
-- serving now is left to it) and read in its newest version, so two lessors on two replicas never
-- both see the same free place. `live` is the key's holders still running: a holder whose job this
-- statement's snapshot shows with an older fencing token, none, or no row at all was leased after
-- the snapshot began and counts. `key_waiting` is the keyed candidates left waiting.
-- :tenant_id  text  the runner's tenant
slots as (
  select s.type, s.key, s.holders from concurrency_slots s
   where s.tenant_id = :tenant_id
     and (s.type, s.key) in (select c.type, c.concurrency_key from cand c where c.concurrency_key is not null)
   order by s.type, s.key
     for update skip locked
),
live as (
  select s.type, s.key, h.job_id, h.token
    from slots s cross join lateral jsonb_to_recordset(s.holders) as h(job_id uuid, token bigint)
    left join jobs hj on hj.tenant_id = :tenant_id and hj.id = h.job_id
   where hj.id is null or hj.fencing_token is null or hj.fencing_token < h.token
      or (hj.fencing_token = h.token and hj.status in (@statuses(leased)))
),
headroom as (
  select s.type, s.key,
         coalesce(t.concurrency_limit, 1) - (select count(*) from live l where l.type = s.type and l.key = s.key) as free
    from slots s left join job_types t on t.tenant_id = :tenant_id and t.type = s.type
),
ranked as (
  select c.tenant_id, c.id, c.type, c.concurrency_key,
         row_number() over (partition by c.type, c.concurrency_key order by c.priority desc, c.run_at, c.id) as n
    from cand c
),
picked as (
  select r.tenant_id, r.id from ranked r left join headroom h on h.type = r.type and h.key = r.concurrency_key
   where r.concurrency_key is null or r.n <= h.free
),
key_waiting as (
  select coalesce(array_agg(r.id), '{}'::uuid[]) as ids from ranked r
   where r.concurrency_key is not null and r.id not in (select id from picked)
),
