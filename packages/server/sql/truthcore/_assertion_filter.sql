-- The conditions a page of assertions and its count share: the tenant's live assertions, narrowed
-- by each filter that is given (null: any); the object filter is the caller's. Each statement is
-- planned with its values (PostgreSQL keeps custom plans for these statements: a generic plan
-- could use no index at all), so an absent filter drops out before planning and the index that
-- fits the given ones (subject and predicate, predicate, object, or time) is used.
-- :tenant_id       text
-- :subject         text         only this subject
-- :predicate       text         only this predicate
-- :min_confidence  float8       only at least this confidence
-- :sources         text[]       only from one of these sources
-- :before          timestamptz  only asserted strictly before
-- :after           timestamptz  only asserted strictly after
tenant_id = :tenant_id and (expires_at is null or expires_at > now())
   and (:subject::text is null or subject = :subject::text)
   and (:predicate::text is null or predicate = :predicate::text)
   and (:min_confidence::double precision is null or confidence >= :min_confidence::double precision)
   and (:sources::text[] is null or source = any(:sources::text[]))
   and (:before::timestamptz is null or asserted_at < :before::timestamptz)
   and (:after::timestamptz is null or asserted_at > :after::timestamptz)
