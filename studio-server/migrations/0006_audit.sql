-- Who did what: one row per action of a signed-in user. Time in microseconds
-- since the Unix epoch, so that actions in the same second keep their order.
-- `user_id` is NULL only for rows that must not name anyone (an account
-- deletion is counted, but the deleted user's rows all go with the account).
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    action TEXT NOT NULL,
    target_id TEXT,
    created_at_us BIGINT NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, created_at_us);
