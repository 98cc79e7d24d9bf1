-- Version 1 again, as alpha's: each component numbers its own migrations.
-- A flag is BIGINT 0 or 1: sqlx's Any driver cannot read SQLite's BOOLEAN.
CREATE TABLE beta_things (
    id      BIGINT PRIMARY KEY,
    label   TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);
