-- Character and voice libraries. A project uses any of its owner's characters by
-- reference, whatever project they were made in: through its scenes, or by casting one
-- for its live shows here without a scene.
CREATE TABLE project_cast (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    character_id TEXT NOT NULL REFERENCES characters (id) ON DELETE CASCADE,
    owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, character_id)
);
CREATE INDEX project_cast_character ON project_cast (character_id);
CREATE INDEX project_cast_owner ON project_cast (owner_id);

-- The models each entry was analysed with, as a JSON list of {name, version, sha256} from
-- the installed manifests; '[]' for entries made before they were recorded.
ALTER TABLE characters ADD COLUMN models TEXT NOT NULL DEFAULT '[]';
ALTER TABLE voices ADD COLUMN models TEXT NOT NULL DEFAULT '[]';

-- What a render's cast was when it was requested: each character with its voice and the
-- models both were analysed with (JSON), so a later re-render with newer models is told.
ALTER TABLE renders ADD COLUMN cast_record TEXT;
