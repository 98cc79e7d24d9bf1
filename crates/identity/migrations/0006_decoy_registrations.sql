-- A registration of a phone number that already has a confirmed account gets an id of this
-- kind instead of an error. The id behaves as a real registration's would (its codes are
-- refused as wrong, then as too many, then as expired), so registering does not tell anyone
-- whether a number is taken; the number's owner gets a message saying it was tried.
CREATE TABLE identity_decoy_registrations (
    id TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);
