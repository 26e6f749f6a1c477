-- Marks every data key that is neither current nor the blind-index root as retired. The records
-- stay: backups may still name them.
-- :blind_index_key_id  text  the id of every tenant's blind-index root
update data_keys k set retired_at = now()
 where k.retired_at is null and k.id <> :blind_index_key_id
   and not exists (select 1 from data_key_current c where c.tenant_id = k.tenant_id and c.key_id = k.id)
