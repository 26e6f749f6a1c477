-- A runner's signed failure is a result too: it goes to TruthCore like a completion does.
-- The runner signs its failure report as it sent it ({category, code, message, retryable,
-- details}); JobForge records an ErrorEnvelope built from it, which is not what was signed, so
-- the report itself is kept beside the outbox row (its message and details encrypted like every
-- other error text) and delivered with the envelope.
alter table result_outbox
  add column outcome text not null default 'completed' check (outcome in ('completed', 'failed')),
  add column failure jsonb,
  add constraint result_outbox_failure_check check ((outcome = 'failed') = (failure is not null));

-- TruthCore keeps the signed report with the provenance record, so the signature over it can be
-- checked again at any time.
alter table truth_job_provenance
  add column failure jsonb,
  add constraint truth_job_provenance_failure_check check (failure is null or outcome = 'failed');
