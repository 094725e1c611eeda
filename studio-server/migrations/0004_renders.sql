-- A render request of a project and, once its job is done, its outputs
-- (JSON list of {preset, file key, metadata key, thumbnails, bytes}).
CREATE TABLE renders (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    job_id TEXT NOT NULL,
    presets TEXT NOT NULL,
    outputs TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX renders_owner ON renders (owner_id);
