-- Storage quotas and the fair job queue.
--
-- `users.bytes_used`: bytes of the user's stored files, the counter every store
-- reserves against with one conditional UPDATE. NULL until first used: the server
-- then sets it from what the storage holds for the user (accounts from before this
-- migration, whose files only the storage can count).
ALTER TABLE users ADD COLUMN bytes_used BIGINT;
-- The owner's storage quota when the job was queued (the server's setting), which
-- the worker charges the job's outputs against; NULL for jobs queued without one.
ALTER TABLE jobs ADD COLUMN quota_bytes BIGINT;
-- When the job was last claimed by a worker: the queue serves the owner whose last
-- claim is oldest first.
ALTER TABLE jobs ADD COLUMN claimed_at BIGINT;
CREATE INDEX jobs_owner_state ON jobs (owner_id, state, created_at);
CREATE INDEX jobs_owner_claimed ON jobs (owner_id, claimed_at);
