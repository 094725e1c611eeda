-- What a character file says beyond its portrait, kept beside the document so that lists
-- show it without reading the portrait: how its face plays (`swap`, `animate`) and the
-- catalog voice it speaks with (JSON `{name, speaker_id}`, or NULL).
ALTER TABLE characters ADD COLUMN face TEXT NOT NULL DEFAULT 'swap';
ALTER TABLE characters ADD COLUMN voice_model TEXT;
