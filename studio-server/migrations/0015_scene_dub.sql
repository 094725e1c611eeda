-- A dubbed scene: the BCP 47 tag of the language its lines are spoken in (the project's
-- subtitle track of that language); NULL for a scene that keeps its own sound.
ALTER TABLE scenes ADD COLUMN dub TEXT;
