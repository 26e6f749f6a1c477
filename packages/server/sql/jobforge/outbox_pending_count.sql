-- Results not yet delivered nor rejected.
select count(*)::int as n from result_outbox where delivered_at is null and rejected_at is null
