-- Data-key records wrapped by any KEK other than this one: what a KEK rotation still has to re-wrap.
-- :kek_id  text
-- :limit   int
select tenant_id, id from data_keys where kek_id <> :kek_id order by tenant_id, id limit :limit
