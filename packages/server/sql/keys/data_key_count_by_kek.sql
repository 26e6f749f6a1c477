-- How many data-key records each KEK wraps.
select kek_id, count(*)::int as n from data_keys group by kek_id order by kek_id
