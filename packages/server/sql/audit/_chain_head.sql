-- The chain head (seq and hash null before the first event) and the time, read under the chain
-- lock. The time comes from the database clock: one clock for every replica, so occurred_at follows
-- seq. It is formatted here, at millisecond precision, because this exact string is hashed and a
-- Date or timestamptz round trip must not be able to change it.
select head.seq, head.hash,
       to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as now
  from (select 1) as one
  left join (select seq, hash from audit_events order by seq desc limit 1) as head on true
