-- Whether a project's face swaps keep what the performer holds in front of their face (a
-- cup, a glove, hair): a setting of the project, not of a revision, as `commercial`.
ALTER TABLE projects ADD COLUMN occlusion_mask BIGINT NOT NULL DEFAULT 0;
