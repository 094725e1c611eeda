-- The consent key of each installation's kiosk link (its URL fragment): a secret apart
-- from the token, kept so that screens can still accept visitors after a restart.
ALTER TABLE installation_tokens ADD COLUMN consent_key TEXT NOT NULL DEFAULT '';
