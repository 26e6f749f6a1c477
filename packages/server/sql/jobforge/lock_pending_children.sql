-- Locks, in id order, the pending children of parents that just ended (and any pending jobs named
-- directly): whoever settles a child holds it, so two parents ending at once settle it one after
-- the other, the second seeing the first's parent ended (the settling reads in a later statement).
-- :tenant_id   text
-- :parent_ids  uuid[]  parents that ended
-- :child_ids   uuid[]  pending jobs to look at directly (just submitted, or found by the sweep)
select j.id from jobs j
 where j.tenant_id = :tenant_id and j.status in (@from(ready))
   and (j.id = any(:child_ids::uuid[])
        or j.id in (select d.child_id from job_dependencies d
                     where d.tenant_id = :tenant_id and d.parent_id = any(:parent_ids::uuid[])))
 order by j.id
   for update
