-- Timed bans (issue 18): why a user is suspended, and until when. A suspension whose
-- `suspended_until` has passed no longer holds: the user is active again from that instant,
-- judged wherever the status is read, with no job to lift it.
ALTER TABLE users ADD COLUMN suspension_reason TEXT;
ALTER TABLE users ADD COLUMN suspended_until TIMESTAMP;
