-- Which of these tables of the current schema have changed enough since they were last analysed:
-- 500 rows plus a tenth of their size (autovacuum's own rule, with a larger floor).
-- :tables  text[]  the tables to consider
select relname from pg_stat_user_tables
 where schemaname = current_schema() and relname = any(:tables::text[])
   and n_mod_since_analyze >= 500 + 0.1 * greatest(n_live_tup, 0)
   -- at most once a minute per table (autovacuum's own pace): analysing a large table
   -- under heavy churn every few seconds would cost more than stale statistics
   and coalesce(greatest(last_analyze, last_autoanalyze) < now() - interval '1 minute', true)
