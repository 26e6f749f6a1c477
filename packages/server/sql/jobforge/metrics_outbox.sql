-- Results not yet delivered to TruthCore nor rejected, and the age in seconds of the oldest.
select count(*)::int as n, coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as oldest_seconds
  from result_outbox
 where delivered_at is null and rejected_at is null
