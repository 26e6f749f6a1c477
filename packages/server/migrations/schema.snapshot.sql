-- Schema of the public schema after all migrations, written by src/scripts/dump-schema.ts
-- (npm run schema:dump). Do not edit: tests compare it with freshly migrated PostgreSQL and PGlite databases.

TABLE api_keys (row level security: enabled, forced)
  COLUMN id uuid NOT NULL
  COLUMN tenant_id text NOT NULL
  COLUMN prefix text NOT NULL
  COLUMN secret_hash bytea NOT NULL
  COLUMN role text NOT NULL
  COLUMN name text NOT NULL
  COLUMN signing_public_key text NOT NULL
  COLUMN expires_at timestamp with time zone
  COLUMN revoked_at timestamp with time zone
  COLUMN last_used_at timestamp with time zone
  COLUMN created_by text
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT api_keys_name_length CHECK (length(name) >= 1 AND length(name) <= 200)
  CONSTRAINT api_keys_pkey PRIMARY KEY (id)
  CONSTRAINT api_keys_prefix_format CHECK (prefix ~ '^[0-9a-f]{16}$'::text)
  CONSTRAINT api_keys_prefix_key UNIQUE (prefix)
  CONSTRAINT api_keys_role_check CHECK (role = ANY (ARRAY['admin'::text, 'operator'::text, 'submitter'::text, 'viewer'::text]))
  CONSTRAINT api_keys_secret_hash_length CHECK (length(secret_hash) = 32)
  CONSTRAINT api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX api_keys_pkey CREATE UNIQUE INDEX api_keys_pkey ON public.api_keys USING btree (id)
  INDEX api_keys_prefix_key CREATE UNIQUE INDEX api_keys_prefix_key ON public.api_keys USING btree (prefix)
  INDEX api_keys_tenant_idx CREATE INDEX api_keys_tenant_idx ON public.api_keys USING btree (tenant_id, created_at DESC, id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE audit_events (row level security: enabled, forced)
  COLUMN seq bigint NOT NULL
  COLUMN id uuid NOT NULL
  COLUMN occurred_at timestamp with time zone NOT NULL
  COLUMN tenant_id text
  COLUMN actor_kind text NOT NULL
  COLUMN actor_id text NOT NULL
  COLUMN action text NOT NULL
  COLUMN resource_kind text
  COLUMN resource_id text
  COLUMN outcome text NOT NULL
  COLUMN correlation_id text
  COLUMN source_address text
  COLUMN details jsonb NOT NULL
  COLUMN prev_hash text NOT NULL
  COLUMN hash text NOT NULL
  CONSTRAINT audit_events_details_object CHECK (jsonb_typeof(details) = 'object'::text)
  CONSTRAINT audit_events_hash_format CHECK (hash ~ '^[0-9a-f]{64}$'::text)
  CONSTRAINT audit_events_id_key UNIQUE (id)
  CONSTRAINT audit_events_outcome_check CHECK (outcome = ANY (ARRAY['success'::text, 'failure'::text, 'denied'::text]))
  CONSTRAINT audit_events_pkey PRIMARY KEY (seq)
  CONSTRAINT audit_events_prev_hash_format CHECK (prev_hash ~ '^[0-9a-f]{64}$'::text)
  CONSTRAINT audit_events_resource_pair CHECK ((resource_kind IS NULL) = (resource_id IS NULL))
  CONSTRAINT audit_events_seq_positive CHECK (seq > 0)
  INDEX audit_events_correlation_idx CREATE INDEX audit_events_correlation_idx ON public.audit_events USING btree (correlation_id, seq) WHERE (correlation_id IS NOT NULL)
  INDEX audit_events_id_key CREATE UNIQUE INDEX audit_events_id_key ON public.audit_events USING btree (id)
  INDEX audit_events_pkey CREATE UNIQUE INDEX audit_events_pkey ON public.audit_events USING btree (seq)
  INDEX audit_events_tenant_time_idx CREATE INDEX audit_events_tenant_time_idx ON public.audit_events USING btree (tenant_id, occurred_at DESC, seq DESC)
  INDEX audit_events_time_idx CREATE INDEX audit_events_time_idx ON public.audit_events USING btree (occurred_at DESC, seq DESC)
  TRIGGER audit_events_append_only CREATE TRIGGER audit_events_append_only BEFORE DELETE OR UPDATE OR TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()
  POLICY tenant_append AS PERMISSIVE FOR INSERT TO public WITH CHECK (((tenant_id IS NULL) OR cp_tenant_visible(tenant_id)))
  POLICY tenant_isolation AS PERMISSIVE FOR SELECT TO public USING (cp_tenant_visible(tenant_id))

TABLE concurrency_slots (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN type text NOT NULL
  COLUMN key text NOT NULL
  COLUMN holders jsonb NOT NULL DEFAULT '[]'::jsonb
  CONSTRAINT concurrency_slots_pkey PRIMARY KEY (tenant_id, type, key)
  CONSTRAINT concurrency_slots_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX concurrency_slots_pkey CREATE UNIQUE INDEX concurrency_slots_pkey ON public.concurrency_slots USING btree (tenant_id, type, key)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE data_key_current (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN key_id text NOT NULL
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT data_key_current_key_id_check CHECK (key_id <> 'blind-index-root-v1'::text)
  CONSTRAINT data_key_current_pkey PRIMARY KEY (tenant_id)
  CONSTRAINT data_key_current_tenant_id_key_id_fkey FOREIGN KEY (tenant_id, key_id) REFERENCES data_keys(tenant_id, id)
  INDEX data_key_current_pkey CREATE UNIQUE INDEX data_key_current_pkey ON public.data_key_current USING btree (tenant_id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE data_keys (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN id text NOT NULL
  COLUMN kek_id text NOT NULL
  COLUMN wrapped bytea NOT NULL
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN rewrapped_at timestamp with time zone
  COLUMN retired_at timestamp with time zone
  CONSTRAINT data_keys_id_check CHECK (id ~ '^[A-Za-z0-9_-]{1,64}$'::text)
  CONSTRAINT data_keys_pkey PRIMARY KEY (tenant_id, id)
  CONSTRAINT data_keys_wrapped_check CHECK (octet_length(wrapped) >= 1 AND octet_length(wrapped) <= 1024)
  INDEX data_keys_kek_idx CREATE INDEX data_keys_kek_idx ON public.data_keys USING btree (kek_id, tenant_id, id)
  INDEX data_keys_pkey CREATE UNIQUE INDEX data_keys_pkey ON public.data_keys USING btree (tenant_id, id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE job_attempts (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN job_id uuid NOT NULL
  COLUMN attempt integer NOT NULL
  COLUMN runner_id text NOT NULL
  COLUMN lease_id uuid NOT NULL
  COLUMN fencing_token bigint NOT NULL
  COLUMN started_at timestamp with time zone NOT NULL
  COLUMN finished_at timestamp with time zone
  COLUMN outcome text
  COLUMN error jsonb
  COLUMN result_signature text
  COLUMN runner_cert_fingerprint text
  CONSTRAINT job_attempts_outcome_check CHECK (outcome = ANY (ARRAY['completed'::text, 'failed'::text, 'lease_expired'::text, 'cancelled'::text, 'released'::text]))
  CONSTRAINT job_attempts_pkey PRIMARY KEY (tenant_id, job_id, attempt)
  INDEX job_attempts_fencing_idx CREATE UNIQUE INDEX job_attempts_fencing_idx ON public.job_attempts USING btree (fencing_token)
  INDEX job_attempts_pkey CREATE UNIQUE INDEX job_attempts_pkey ON public.job_attempts USING btree (tenant_id, job_id, attempt)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE job_dependencies (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN child_id uuid NOT NULL
  COLUMN parent_id uuid NOT NULL
  COLUMN policy text NOT NULL
  CONSTRAINT job_dependencies_not_self CHECK (child_id <> parent_id)
  CONSTRAINT job_dependencies_pkey PRIMARY KEY (tenant_id, child_id, parent_id)
  CONSTRAINT job_dependencies_policy_check CHECK (policy = ANY (ARRAY['fail'::text, 'cancel'::text, 'ignore'::text]))
  CONSTRAINT job_dependencies_tenant_id_child_id_fkey FOREIGN KEY (tenant_id, child_id) REFERENCES jobs(tenant_id, id)
  CONSTRAINT job_dependencies_tenant_id_parent_id_fkey FOREIGN KEY (tenant_id, parent_id) REFERENCES jobs(tenant_id, id)
  INDEX job_dependencies_parent_idx CREATE INDEX job_dependencies_parent_idx ON public.job_dependencies USING btree (tenant_id, parent_id)
  INDEX job_dependencies_pkey CREATE UNIQUE INDEX job_dependencies_pkey ON public.job_dependencies USING btree (tenant_id, child_id, parent_id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE job_events (row level security: enabled, forced)
  COLUMN seq bigint NOT NULL DEFAULT nextval('job_events_seq_seq'::regclass)
  COLUMN id uuid NOT NULL
  COLUMN tenant_id text NOT NULL
  COLUMN job_id uuid NOT NULL
  COLUMN type text NOT NULL
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN data jsonb
  CONSTRAINT job_events_pkey PRIMARY KEY (tenant_id, job_id, seq)
  INDEX job_events_pkey CREATE UNIQUE INDEX job_events_pkey ON public.job_events USING btree (tenant_id, job_id, seq)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE job_types (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN type text NOT NULL
  COLUMN input_schema jsonb
  COLUMN output_schema jsonb
  COLUMN pool text NOT NULL DEFAULT 'default'::text
  COLUMN version integer NOT NULL DEFAULT 1
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN concurrency_limit integer
  CONSTRAINT job_types_concurrency_limit_check CHECK (concurrency_limit > 0)
  CONSTRAINT job_types_pkey PRIMARY KEY (tenant_id, type)
  CONSTRAINT job_types_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX job_types_pkey CREATE UNIQUE INDEX job_types_pkey ON public.job_types USING btree (tenant_id, type)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE jobs (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN id uuid NOT NULL
  COLUMN type text NOT NULL
  COLUMN pool text NOT NULL
  COLUMN priority smallint NOT NULL
  COLUMN status text NOT NULL
  COLUMN request jsonb NOT NULL
  COLUMN request_digest text NOT NULL
  COLUMN attempts integer NOT NULL DEFAULT 0
  COLUMN retry_base integer NOT NULL DEFAULT 0
  COLUMN run_at timestamp with time zone NOT NULL
  COLUMN expires_at timestamp with time zone
  COLUMN timeout_ms integer NOT NULL
  COLUMN lease_id uuid
  COLUMN lease_runner_id text
  COLUMN lease_expires_at timestamp with time zone
  COLUMN fencing_token bigint
  COLUMN cancel_requested_at timestamp with time zone
  COLUMN result jsonb
  COLUMN error jsonb
  COLUMN dead_lettered_at timestamp with time zone
  COLUMN submitted_by text
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN finished_at timestamp with time zone
  COLUMN trace_parent text
  COLUMN concurrency_key text
  COLUMN flow_id uuid
  CONSTRAINT jobs_check CHECK ((status = 'running'::text) = (lease_id IS NOT NULL))
  CONSTRAINT jobs_pkey PRIMARY KEY (tenant_id, id)
  CONSTRAINT jobs_priority_check CHECK (priority >= 0 AND priority <= 100)
  CONSTRAINT jobs_status_check CHECK (status = ANY (ARRAY['pending'::text, 'queued'::text, 'running'::text, 'completed'::text, 'failed'::text, 'cancelled'::text, 'retrying'::text]))
  CONSTRAINT jobs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  CONSTRAINT jobs_timeout_ms_check CHECK (timeout_ms > 0)
  CONSTRAINT jobs_trace_parent_check CHECK (trace_parent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'::text)
  INDEX jobs_dead_letter_idx CREATE INDEX jobs_dead_letter_idx ON public.jobs USING btree (tenant_id, dead_lettered_at DESC) WHERE (dead_lettered_at IS NOT NULL)
  INDEX jobs_expiry_idx CREATE INDEX jobs_expiry_idx ON public.jobs USING btree (expires_at) WHERE ((status = ANY (ARRAY['pending'::text, 'queued'::text, 'retrying'::text])) AND (expires_at IS NOT NULL))
  INDEX jobs_flow_idx CREATE INDEX jobs_flow_idx ON public.jobs USING btree (tenant_id, flow_id) WHERE (flow_id IS NOT NULL)
  INDEX jobs_lease_expiry_idx CREATE INDEX jobs_lease_expiry_idx ON public.jobs USING btree (lease_expires_at) WHERE (status = 'running'::text)
  INDEX jobs_list_idx CREATE INDEX jobs_list_idx ON public.jobs USING btree (tenant_id, created_at DESC, id DESC)
  INDEX jobs_pending_idx CREATE INDEX jobs_pending_idx ON public.jobs USING btree (tenant_id, id) WHERE (status = 'pending'::text)
  INDEX jobs_pkey CREATE UNIQUE INDEX jobs_pkey ON public.jobs USING btree (tenant_id, id)
  INDEX jobs_ready_idx CREATE INDEX jobs_ready_idx ON public.jobs USING btree (tenant_id, pool, priority DESC, run_at, id) WHERE (status = ANY (ARRAY['queued'::text, 'retrying'::text]))
  INDEX jobs_running_key_idx CREATE INDEX jobs_running_key_idx ON public.jobs USING btree (tenant_id, type, concurrency_key) WHERE ((status = 'running'::text) AND (concurrency_key IS NOT NULL))
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE join_tokens (row level security: enabled, forced)
  COLUMN id uuid NOT NULL
  COLUMN tenant_id text NOT NULL
  COLUMN pool text NOT NULL
  COLUMN token_hash text NOT NULL
  COLUMN expires_at timestamp with time zone NOT NULL
  COLUMN used_at timestamp with time zone
  COLUMN used_by text
  COLUMN created_by text
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT join_tokens_pkey PRIMARY KEY (id)
  CONSTRAINT join_tokens_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  CONSTRAINT join_tokens_token_hash_key UNIQUE (token_hash)
  INDEX join_tokens_pkey CREATE UNIQUE INDEX join_tokens_pkey ON public.join_tokens USING btree (id)
  INDEX join_tokens_token_hash_key CREATE UNIQUE INDEX join_tokens_token_hash_key ON public.join_tokens USING btree (token_hash)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE key_rotation_runs (row level security: disabled, not forced)
  COLUMN id bigint NOT NULL GENERATED ALWAYS AS IDENTITY
  COLUMN status text NOT NULL DEFAULT 'running'::text
  COLUMN phase text NOT NULL DEFAULT 'rotate-keys'::text
  COLUMN cursor jsonb
  COLUMN sweep_after timestamp with time zone
  COLUMN rows_scanned bigint NOT NULL DEFAULT 0
  COLUMN rows_rewritten bigint NOT NULL DEFAULT 0
  COLUMN started_by text
  COLUMN started_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN finished_at timestamp with time zone
  CONSTRAINT key_rotation_runs_pkey PRIMARY KEY (id)
  CONSTRAINT key_rotation_runs_status_check CHECK (status = ANY (ARRAY['running'::text, 'completed'::text, 'cancelled'::text]))
  INDEX key_rotation_runs_pkey CREATE UNIQUE INDEX key_rotation_runs_pkey ON public.key_rotation_runs USING btree (id)
  INDEX key_rotation_runs_running_idx CREATE UNIQUE INDEX key_rotation_runs_running_idx ON public.key_rotation_runs USING btree (status) WHERE (status = 'running'::text)

TABLE result_outbox (row level security: enabled, forced)
  COLUMN id bigint NOT NULL DEFAULT nextval('result_outbox_id_seq'::regclass)
  COLUMN tenant_id text NOT NULL
  COLUMN job_id uuid NOT NULL
  COLUMN attempt integer NOT NULL
  COLUMN fencing_token bigint NOT NULL
  COLUMN runner_id text NOT NULL
  COLUMN cert_fingerprint text NOT NULL
  COLUMN signature text NOT NULL
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN attempts integer NOT NULL DEFAULT 0
  COLUMN next_attempt_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN delivered_at timestamp with time zone
  COLUMN rejected_at timestamp with time zone
  COLUMN last_error text
  COLUMN outcome text NOT NULL DEFAULT 'completed'::text
  COLUMN failure jsonb
  CONSTRAINT result_outbox_failure_check CHECK ((outcome = 'failed'::text) = (failure IS NOT NULL))
  CONSTRAINT result_outbox_outcome_check CHECK (outcome = ANY (ARRAY['completed'::text, 'failed'::text]))
  CONSTRAINT result_outbox_pkey PRIMARY KEY (id)
  CONSTRAINT result_outbox_tenant_id_job_id_attempt_key UNIQUE (tenant_id, job_id, attempt)
  INDEX result_outbox_pending_idx CREATE INDEX result_outbox_pending_idx ON public.result_outbox USING btree (next_attempt_at, id) WHERE ((delivered_at IS NULL) AND (rejected_at IS NULL))
  INDEX result_outbox_pkey CREATE UNIQUE INDEX result_outbox_pkey ON public.result_outbox USING btree (id)
  INDEX result_outbox_tenant_id_job_id_attempt_key CREATE UNIQUE INDEX result_outbox_tenant_id_job_id_attempt_key ON public.result_outbox USING btree (tenant_id, job_id, attempt)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE runner_certificates (row level security: enabled, forced)
  COLUMN serial_number text NOT NULL
  COLUMN runner_id text NOT NULL
  COLUMN fingerprint256 text NOT NULL
  COLUMN certificate_pem text NOT NULL
  COLUMN not_after timestamp with time zone NOT NULL
  COLUMN issued_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN revoked_at timestamp with time zone
  CONSTRAINT runner_certificates_pkey PRIMARY KEY (serial_number)
  CONSTRAINT runner_certificates_runner_id_fkey FOREIGN KEY (runner_id) REFERENCES runners(id)
  INDEX runner_certificates_pkey CREATE UNIQUE INDEX runner_certificates_pkey ON public.runner_certificates USING btree (serial_number)
  INDEX runner_certificates_runner_idx CREATE INDEX runner_certificates_runner_idx ON public.runner_certificates USING btree (runner_id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING ((EXISTS ( SELECT 1
   FROM runners r
  WHERE (r.id = runner_certificates.runner_id)))) WITH CHECK ((EXISTS ( SELECT 1
   FROM runners r
  WHERE (r.id = runner_certificates.runner_id))))

TABLE runners (row level security: enabled, forced)
  COLUMN id text NOT NULL
  COLUMN tenant_id text NOT NULL
  COLUMN pool text NOT NULL
  COLUMN name text NOT NULL
  COLUMN version text
  COLUMN capabilities jsonb NOT NULL DEFAULT '[]'::jsonb
  COLUMN job_types text[] NOT NULL DEFAULT '{}'::text[]
  COLUMN tags text[] NOT NULL DEFAULT '{}'::text[]
  COLUMN status text NOT NULL DEFAULT 'enrolled'::text
  COLUMN last_heartbeat_at timestamp with time zone
  COLUMN revoked_at timestamp with time zone
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT runners_pkey PRIMARY KEY (id)
  CONSTRAINT runners_status_check CHECK (status = ANY (ARRAY['enrolled'::text, 'active'::text, 'draining'::text, 'revoked'::text]))
  CONSTRAINT runners_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX runners_pkey CREATE UNIQUE INDEX runners_pkey ON public.runners USING btree (id)
  INDEX runners_tenant_idx CREATE INDEX runners_tenant_idx ON public.runners USING btree (tenant_id, pool)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE schedules (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN id uuid NOT NULL
  COLUMN name text NOT NULL
  COLUMN template jsonb NOT NULL
  COLUMN cron text
  COLUMN timezone text NOT NULL DEFAULT 'UTC'::text
  COLUMN interval_ms bigint
  COLUMN start_at timestamp with time zone
  COLUMN end_at timestamp with time zone
  COLUMN max_runs integer
  COLUMN runs integer NOT NULL DEFAULT 0
  COLUMN paused boolean NOT NULL DEFAULT false
  COLUMN overlap text NOT NULL
  COLUMN catch_up text NOT NULL
  COLUMN catch_up_limit integer NOT NULL DEFAULT 10
  COLUMN next_fire_at timestamp with time zone
  COLUMN buffered_at timestamp with time zone
  COLUMN last_job_id uuid
  COLUMN last_fired_at timestamp with time zone
  COLUMN firing_lease uuid
  COLUMN firing_until timestamp with time zone
  COLUMN created_by text
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT schedules_catch_up_check CHECK (catch_up = ANY (ARRAY['skip'::text, 'latest'::text, 'all'::text]))
  CONSTRAINT schedules_catch_up_limit_check CHECK (catch_up_limit >= 1 AND catch_up_limit <= 1000)
  CONSTRAINT schedules_interval_check CHECK (interval_ms >= 1000)
  CONSTRAINT schedules_max_runs_check CHECK (max_runs > 0)
  CONSTRAINT schedules_name_unique UNIQUE (tenant_id, name)
  CONSTRAINT schedules_one_rule CHECK ((cron IS NULL) <> (interval_ms IS NULL))
  CONSTRAINT schedules_overlap_check CHECK (overlap = ANY (ARRAY['skip'::text, 'buffer-one'::text, 'allow'::text, 'cancel-previous'::text]))
  CONSTRAINT schedules_pkey PRIMARY KEY (tenant_id, id)
  CONSTRAINT schedules_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX schedules_buffered_idx CREATE INDEX schedules_buffered_idx ON public.schedules USING btree (buffered_at) WHERE (buffered_at IS NOT NULL)
  INDEX schedules_due_idx CREATE INDEX schedules_due_idx ON public.schedules USING btree (next_fire_at) WHERE ((NOT paused) AND (next_fire_at IS NOT NULL))
  INDEX schedules_name_unique CREATE UNIQUE INDEX schedules_name_unique ON public.schedules USING btree (tenant_id, name)
  INDEX schedules_pkey CREATE UNIQUE INDEX schedules_pkey ON public.schedules USING btree (tenant_id, id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE schema_migrations (row level security: disabled, not forced)
  COLUMN version integer NOT NULL
  COLUMN name text NOT NULL
  COLUMN checksum text NOT NULL
  COLUMN applied_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
  INDEX schema_migrations_pkey CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (version)

TABLE tenant_quotas (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN max_queued_jobs integer
  COLUMN max_running_jobs integer
  COLUMN max_payload_bytes integer
  COLUMN requests_per_second integer
  COLUMN burst integer
  COLUMN updated_by text
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT tenant_quotas_burst_check CHECK (burst > 0)
  CONSTRAINT tenant_quotas_max_payload_check CHECK (max_payload_bytes > 0)
  CONSTRAINT tenant_quotas_max_queued_check CHECK (max_queued_jobs >= 0)
  CONSTRAINT tenant_quotas_max_running_check CHECK (max_running_jobs >= 0)
  CONSTRAINT tenant_quotas_pkey PRIMARY KEY (tenant_id)
  CONSTRAINT tenant_quotas_rps_check CHECK (requests_per_second > 0)
  CONSTRAINT tenant_quotas_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX tenant_quotas_pkey CREATE UNIQUE INDEX tenant_quotas_pkey ON public.tenant_quotas USING btree (tenant_id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE tenants (row level security: enabled, forced)
  COLUMN id text NOT NULL
  COLUMN name text NOT NULL
  COLUMN status text NOT NULL DEFAULT 'active'::text
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT tenants_id_format CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text)
  CONSTRAINT tenants_pkey PRIMARY KEY (id)
  CONSTRAINT tenants_status_check CHECK (status = ANY (ARRAY['active'::text, 'suspended'::text]))
  INDEX tenants_pkey CREATE UNIQUE INDEX tenants_pkey ON public.tenants USING btree (id)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(id)) WITH CHECK (cp_tenant_visible(id))

TABLE truth_assertions (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN id uuid NOT NULL
  COLUMN seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY
  COLUMN subject text NOT NULL
  COLUMN predicate text NOT NULL
  COLUMN object jsonb NOT NULL
  COLUMN object_hash bytea NOT NULL
  COLUMN confidence double precision NOT NULL
  COLUMN source text NOT NULL
  COLUMN asserted_at timestamp with time zone NOT NULL
  COLUMN expires_at timestamp with time zone
  COLUMN metadata jsonb NOT NULL DEFAULT '{}'::jsonb
  COLUMN asserted_by text NOT NULL
  COLUMN recorded_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN object_encrypted boolean NOT NULL DEFAULT false
  CONSTRAINT truth_assertions_asserted_at_check CHECK (asserted_at = date_trunc('milliseconds'::text, asserted_at))
  CONSTRAINT truth_assertions_confidence_check CHECK (confidence >= 0::double precision AND confidence <= 1::double precision)
  CONSTRAINT truth_assertions_object_hash_check CHECK (octet_length(object_hash) = 32)
  CONSTRAINT truth_assertions_pkey PRIMARY KEY (tenant_id, id)
  CONSTRAINT truth_assertions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX truth_assertions_o_idx CREATE INDEX truth_assertions_o_idx ON public.truth_assertions USING btree (tenant_id, object_hash, asserted_at DESC, id DESC)
  INDEX truth_assertions_p_idx CREATE INDEX truth_assertions_p_idx ON public.truth_assertions USING btree (tenant_id, predicate, asserted_at DESC, id DESC)
  INDEX truth_assertions_pkey CREATE UNIQUE INDEX truth_assertions_pkey ON public.truth_assertions USING btree (tenant_id, id)
  INDEX truth_assertions_seq_idx CREATE INDEX truth_assertions_seq_idx ON public.truth_assertions USING btree (tenant_id, seq)
  INDEX truth_assertions_sp_idx CREATE INDEX truth_assertions_sp_idx ON public.truth_assertions USING btree (tenant_id, subject, predicate, asserted_at DESC, id DESC)
  INDEX truth_assertions_time_idx CREATE INDEX truth_assertions_time_idx ON public.truth_assertions USING btree (tenant_id, asserted_at DESC, id DESC)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE truth_job_provenance (row level security: enabled, forced)
  COLUMN tenant_id text NOT NULL
  COLUMN job_id uuid NOT NULL
  COLUMN attempt integer NOT NULL
  COLUMN fencing_token text NOT NULL
  COLUMN outcome text NOT NULL
  COLUMN submitted_by text NOT NULL
  COLUMN request_digest text NOT NULL
  COLUMN result jsonb NOT NULL
  COLUMN result_digest text NOT NULL
  COLUMN runner_id text NOT NULL
  COLUMN runner_spiffe_id text NOT NULL
  COLUMN runner_cert_serial text NOT NULL
  COLUMN runner_cert_fingerprint text NOT NULL
  COLUMN runner_cert_pem text NOT NULL
  COLUMN signature text NOT NULL
  COLUMN evidence jsonb
  COLUMN evidence_hash text
  COLUMN recorded_by text NOT NULL
  COLUMN recorded_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN failure jsonb
  CONSTRAINT truth_job_provenance_attempt_check CHECK (attempt >= 1)
  CONSTRAINT truth_job_provenance_check CHECK ((evidence IS NULL) = (evidence_hash IS NULL))
  CONSTRAINT truth_job_provenance_failure_check CHECK (failure IS NULL OR outcome = 'failed'::text)
  CONSTRAINT truth_job_provenance_fencing_token_check CHECK (fencing_token ~ '^[0-9]{1,19}$'::text)
  CONSTRAINT truth_job_provenance_outcome_check CHECK (outcome = ANY (ARRAY['completed'::text, 'failed'::text]))
  CONSTRAINT truth_job_provenance_pkey PRIMARY KEY (tenant_id, job_id, attempt)
  CONSTRAINT truth_job_provenance_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX truth_job_provenance_pkey CREATE UNIQUE INDEX truth_job_provenance_pkey ON public.truth_job_provenance USING btree (tenant_id, job_id, attempt)
  INDEX truth_job_provenance_runner_idx CREATE INDEX truth_job_provenance_runner_idx ON public.truth_job_provenance USING btree (tenant_id, runner_id, recorded_at DESC)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

TABLE ui_sessions (row level security: enabled, forced)
  COLUMN token_hash bytea NOT NULL
  COLUMN key_id uuid NOT NULL
  COLUMN tenant_id text NOT NULL
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN last_seen_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN expires_at timestamp with time zone NOT NULL
  CONSTRAINT ui_sessions_key_id_fkey FOREIGN KEY (key_id) REFERENCES api_keys(id) ON DELETE CASCADE
  CONSTRAINT ui_sessions_pkey PRIMARY KEY (token_hash)
  CONSTRAINT ui_sessions_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  CONSTRAINT ui_sessions_token_hash_length CHECK (length(token_hash) = 32)
  INDEX ui_sessions_expiry_idx CREATE INDEX ui_sessions_expiry_idx ON public.ui_sessions USING btree (expires_at)
  INDEX ui_sessions_key_idx CREATE INDEX ui_sessions_key_idx ON public.ui_sessions USING btree (key_id)
  INDEX ui_sessions_pkey CREATE UNIQUE INDEX ui_sessions_pkey ON public.ui_sessions USING btree (token_hash)
  POLICY tenant_isolation AS PERMISSIVE FOR ALL TO public USING (cp_tenant_visible(tenant_id)) WITH CHECK (cp_tenant_visible(tenant_id))

SEQUENCE job_events_seq_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807
SEQUENCE job_fencing_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807
SEQUENCE key_rotation_runs_id_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807
SEQUENCE result_outbox_id_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807
SEQUENCE truth_assertions_seq_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807

FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql VOLATILE
  AS begin raise exception 'audit_events is append-only: % is refused', tg_op using errcode = 'insufficient_privilege', hint = 'audit rows can only be inserted; corrections are new events'; end;

FUNCTION cp_tenant_visible(row_tenant text) RETURNS boolean LANGUAGE sql STABLE
  AS select row_tenant = current_setting('app.tenant_id', true) or current_setting('app.scope', true) = 'system'
