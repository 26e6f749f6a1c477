-- Writes the re-encrypted objects of a batch of assertions; a row with a hash (an object stored in
-- clear until now) also gets its blind index, the others keep theirs.
-- :objects  jsonb  [{tenant_id, id, object (ciphertext), hash (hex) or null}]
update truth_assertions t
   set object = to_jsonb(r.object), object_encrypted = true, object_hash = coalesce(decode(r.hash, 'hex'), t.object_hash)
  from jsonb_to_recordset(:objects::jsonb) as r(tenant_id text, id uuid, object text, hash text)
 where t.tenant_id = r.tenant_id and t.id = r.id
