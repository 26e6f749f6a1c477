-- Takes the audit chain's lock until the transaction ends. One key for every ControlPlane process:
-- "cpaudt" in ASCII, next to the migration lock ("cpmigr") and well away from small ids other code
-- might pick.
pg_advisory_xact_lock(109334322570356)
