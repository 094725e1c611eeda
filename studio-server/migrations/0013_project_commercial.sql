-- Whether a project is commercial work: its renders then refuse models not cleared for
-- commercial use and faces or voices whose rights are non-commercial. A 0/1 flag, as
-- `scenes.voice_over`, so that one query reads it on SQLite and PostgreSQL alike.
ALTER TABLE projects ADD COLUMN commercial BIGINT NOT NULL DEFAULT 0;
