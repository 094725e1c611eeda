-- The job queue. Times in milliseconds since the Unix epoch; JSON as text.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT REFERENCES projects (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    priority BIGINT NOT NULL,
    state TEXT NOT NULL,
    progress DOUBLE PRECISION NOT NULL,
    stage TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    max_attempts BIGINT NOT NULL,
    run_after BIGINT NOT NULL,
    lease_until BIGINT,
    worker TEXT,
    error TEXT,
    result TEXT,
    idempotency_key TEXT,
    cancel_requested BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- NULL keys are distinct in both databases, so jobs without a key never clash.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner_id, idempotency_key);
CREATE INDEX jobs_ready ON jobs (state, run_after);
CREATE INDEX jobs_owner ON jobs (owner_id);
