-- The random token in each installation's kiosk URL, made once per installation name
-- and kept, so that screens keep their address across restarts while the name alone
-- (guessable) opens nothing.
CREATE TABLE installation_tokens (
    name TEXT PRIMARY KEY,
    token TEXT NOT NULL
);
