-- Subtitle tracks: one per project and language (a BCP 47 tag in canonical case),
-- `cues` the JSON list of {start, end, text, speaker?} in timeline seconds.
CREATE TABLE subtitle_tracks (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    lang TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    cues TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, lang)
);
CREATE INDEX subtitle_tracks_owner ON subtitle_tracks (owner_id);
