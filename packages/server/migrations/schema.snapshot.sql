-- Schema of the public schema after all migrations, written by src/scripts/dump-schema.ts
-- (npm run schema:dump). Do not edit: tests compare it with freshly migrated PostgreSQL and PGlite databases.

TABLE job_attempts (row level security: disabled, not forced)
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
  CONSTRAINT job_attempts_tenant_id_job_id_fkey FOREIGN KEY (tenant_id, job_id) REFERENCES jobs(tenant_id, id)
  INDEX job_attempts_fencing_idx CREATE UNIQUE INDEX job_attempts_fencing_idx ON public.job_attempts USING btree (fencing_token)
  INDEX job_attempts_pkey CREATE UNIQUE INDEX job_attempts_pkey ON public.job_attempts USING btree (tenant_id, job_id, attempt)

TABLE job_events (row level security: disabled, not forced)
  COLUMN seq bigint NOT NULL DEFAULT nextval('job_events_seq_seq'::regclass)
  COLUMN id uuid NOT NULL
  COLUMN tenant_id text NOT NULL
  COLUMN job_id uuid NOT NULL
  COLUMN type text NOT NULL
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  COLUMN data jsonb
  CONSTRAINT job_events_id_key UNIQUE (id)
  CONSTRAINT job_events_pkey PRIMARY KEY (seq)
  CONSTRAINT job_events_tenant_id_job_id_fkey FOREIGN KEY (tenant_id, job_id) REFERENCES jobs(tenant_id, id)
  INDEX job_events_id_key CREATE UNIQUE INDEX job_events_id_key ON public.job_events USING btree (id)
  INDEX job_events_job_idx CREATE INDEX job_events_job_idx ON public.job_events USING btree (tenant_id, job_id, seq)
  INDEX job_events_pkey CREATE UNIQUE INDEX job_events_pkey ON public.job_events USING btree (seq)

TABLE job_types (row level security: disabled, not forced)
  COLUMN tenant_id text NOT NULL
  COLUMN type text NOT NULL
  COLUMN input_schema jsonb
  COLUMN output_schema jsonb
  COLUMN pool text NOT NULL DEFAULT 'default'::text
  COLUMN version integer NOT NULL DEFAULT 1
  COLUMN updated_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT job_types_pkey PRIMARY KEY (tenant_id, type)
  CONSTRAINT job_types_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX job_types_pkey CREATE UNIQUE INDEX job_types_pkey ON public.job_types USING btree (tenant_id, type)

TABLE jobs (row level security: disabled, not forced)
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
  CONSTRAINT jobs_check CHECK ((status = 'running'::text) = (lease_id IS NOT NULL))
  CONSTRAINT jobs_pkey PRIMARY KEY (tenant_id, id)
  CONSTRAINT jobs_priority_check CHECK (priority >= 0 AND priority <= 100)
  CONSTRAINT jobs_status_check CHECK (status = ANY (ARRAY['pending'::text, 'queued'::text, 'running'::text, 'completed'::text, 'failed'::text, 'cancelled'::text, 'retrying'::text]))
  CONSTRAINT jobs_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  CONSTRAINT jobs_timeout_ms_check CHECK (timeout_ms > 0)
  INDEX jobs_dead_letter_idx CREATE INDEX jobs_dead_letter_idx ON public.jobs USING btree (tenant_id, dead_lettered_at DESC) WHERE (dead_lettered_at IS NOT NULL)
  INDEX jobs_expiry_idx CREATE INDEX jobs_expiry_idx ON public.jobs USING btree (expires_at) WHERE ((status = ANY (ARRAY['queued'::text, 'retrying'::text])) AND (expires_at IS NOT NULL))
  INDEX jobs_lease_expiry_idx CREATE INDEX jobs_lease_expiry_idx ON public.jobs USING btree (lease_expires_at) WHERE (status = 'running'::text)
  INDEX jobs_list_idx CREATE INDEX jobs_list_idx ON public.jobs USING btree (tenant_id, created_at DESC, id DESC)
  INDEX jobs_pkey CREATE UNIQUE INDEX jobs_pkey ON public.jobs USING btree (tenant_id, id)
  INDEX jobs_ready_idx CREATE INDEX jobs_ready_idx ON public.jobs USING btree (tenant_id, pool, priority DESC, run_at, id) WHERE (status = ANY (ARRAY['queued'::text, 'retrying'::text]))
  INDEX jobs_status_list_idx CREATE INDEX jobs_status_list_idx ON public.jobs USING btree (tenant_id, status, created_at DESC, id DESC)

TABLE join_tokens (row level security: disabled, not forced)
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

TABLE runner_certificates (row level security: disabled, not forced)
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

TABLE runners (row level security: disabled, not forced)
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
  CONSTRAINT runners_status_check CHECK (status = ANY (ARRAY['enrolled'::text, 'active'::text, 'revoked'::text]))
  CONSTRAINT runners_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id)
  INDEX runners_pkey CREATE UNIQUE INDEX runners_pkey ON public.runners USING btree (id)
  INDEX runners_tenant_idx CREATE INDEX runners_tenant_idx ON public.runners USING btree (tenant_id, pool)

TABLE schema_migrations (row level security: disabled, not forced)
  COLUMN version integer NOT NULL
  COLUMN name text NOT NULL
  COLUMN checksum text NOT NULL
  COLUMN applied_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
  INDEX schema_migrations_pkey CREATE UNIQUE INDEX schema_migrations_pkey ON public.schema_migrations USING btree (version)

TABLE tenants (row level security: disabled, not forced)
  COLUMN id text NOT NULL
  COLUMN name text NOT NULL
  COLUMN status text NOT NULL DEFAULT 'active'::text
  COLUMN created_at timestamp with time zone NOT NULL DEFAULT now()
  CONSTRAINT tenants_id_format CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text)
  CONSTRAINT tenants_pkey PRIMARY KEY (id)
  CONSTRAINT tenants_status_check CHECK (status = ANY (ARRAY['active'::text, 'suspended'::text]))
  INDEX tenants_pkey CREATE UNIQUE INDEX tenants_pkey ON public.tenants USING btree (id)

SEQUENCE job_events_seq_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807
SEQUENCE job_fencing_seq AS bigint START 1 INCREMENT 1 MINVALUE 1 MAXVALUE 9223372036854775807
