-- Inserts the assertions that do not exist yet; answers the rows actually inserted. Each object
-- comes boxed as {v: object}: jsonb_to_recordset turns a JSON null field into SQL NULL, and null
-- is a valid object.
-- :tenant_id   text
-- :assertions  jsonb  [{id, subject, predicate, object, object_hash (hex), object_encrypted, confidence, source, asserted_at, expires_at, metadata, asserted_by}]
insert into truth_assertions (tenant_id, id, subject, predicate, object, object_hash, object_encrypted, confidence, source,
                              asserted_at, expires_at, metadata, asserted_by)
select :tenant_id, t.id, t.subject, t.predicate, t.object -> 'v', decode(t.object_hash, 'hex'), t.object_encrypted, t.confidence,
       t.source, t.asserted_at, t.expires_at, t.metadata, t.asserted_by
  from jsonb_to_recordset(:assertions::jsonb) as t(id uuid, subject text, predicate text, object jsonb, object_hash text,
       object_encrypted boolean, confidence double precision, source text, asserted_at timestamptz, expires_at timestamptz,
       metadata jsonb, asserted_by text)
on conflict (tenant_id, id) do nothing
returning
-- @include assertion_columns
