-- Every column of an assertion row as the store reads it. object_encrypted is read to decrypt and
-- dropped before a row leaves the store.
tenant_id, id, seq, subject, predicate, object, confidence, source, asserted_at, expires_at, metadata, asserted_by, recorded_at,
object_encrypted
