-- Every stored state of a project (name and timeline), so edits can be undone and redone
-- after a reload. `projects.revision` is the state shown now; `projects.version` grows with
-- every change (edit, undo, redo) and is the ETag clients send back in If-Match, so an
-- edit made against a state that has since changed is refused instead of lost.
ALTER TABLE projects ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE TABLE project_revisions (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    revision BIGINT NOT NULL,
    owner_id TEXT NOT NULL,
    name TEXT NOT NULL,
    timeline TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (project_id, revision)
);

INSERT INTO project_revisions (project_id, revision, owner_id, name, timeline, created_at)
SELECT id, 0, owner_id, name, timeline, updated_at FROM projects;
