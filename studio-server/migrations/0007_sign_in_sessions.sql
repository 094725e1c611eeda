-- Sign-in throttling and revocable sessions (portable between SQLite and PostgreSQL).

-- One counter per throttling key (`global`, `ip:ADDR`, `email:ADDR`, `slow:ADDR`): attempts
-- reserved in the window that began at `window_start` (Unix seconds). A reservation is one
-- INSERT .. ON CONFLICT DO UPDATE .. RETURNING, so parallel sign-ins cannot overrun it.
CREATE TABLE login_throttle (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);
CREATE INDEX login_throttle_window ON login_throttle (window_start);

-- One row per sign-in. Access and refresh tokens name their session, and every
-- authenticated request checks that it is live: logout and account deletion end it at once.
-- `expires_at` is absolute (sign-in + 30 days); rotation never extends it.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Refresh tokens from before this migration have no session and are refused.
ALTER TABLE refresh_tokens ADD COLUMN session_id TEXT;
