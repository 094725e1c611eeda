-- Media uploaded to (or imported into) a project, after discovery accepted it.
CREATE TABLE clips (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    original_name TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    container TEXT NOT NULL,
    duration_s DOUBLE PRECISION NOT NULL,
    width BIGINT NOT NULL,
    height BIGINT NOT NULL,
    fps DOUBLE PRECISION NOT NULL,
    video_codec TEXT NOT NULL,
    audio_codec TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX clips_project ON clips (project_id);
CREATE INDEX clips_owner ON clips (owner_id);
