-- The W3C trace context a job was submitted under (JobForge's span of the submission), so that the
-- runner's span around the handler and TruthCore's record of the result join the submitter's
-- trace (docs/observability.md, Tracing). Null when tracing is off. Ids only, never data.
alter table jobs add column trace_parent text
  check (trace_parent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
