-- Voices: a speech sample of a project and the profile measured on it (the
-- character file's `voice` object as JSON text, embedding included).
CREATE TABLE voices (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    sample_key TEXT NOT NULL,
    profile TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX voices_project ON voices (project_id);
CREATE INDEX voices_owner ON voices (owner_id);

-- Characters: a portrait of a project analysed into a character file. `document`
-- is that file's JSON without a voice (the attached voice's profile joins it when
-- read); `analysis` is the small summary the API lists.
CREATE TABLE characters (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    portrait_key TEXT NOT NULL,
    document TEXT NOT NULL,
    analysis TEXT NOT NULL,
    voice_id TEXT REFERENCES voices (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX characters_project ON characters (project_id);
CREATE INDEX characters_owner ON characters (owner_id);
CREATE INDEX characters_voice ON characters (voice_id);

-- Scenes: a stretch of the project's timeline (seconds) played by a character;
-- `voice_over` is a 0/1 flag.
CREATE TABLE scenes (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    character_id TEXT NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    start_s DOUBLE PRECISION NOT NULL,
    end_s DOUBLE PRECISION NOT NULL,
    voice_over BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX scenes_project ON scenes (project_id);
CREATE INDEX scenes_owner ON scenes (owner_id);
CREATE INDEX scenes_character ON scenes (character_id);
