-- How many tenants have a current data key, and how many keys are retired.
select (select count(*)::int from data_key_current) as tenants,
       (select count(*)::int from data_keys where retired_at is not null) as retired
