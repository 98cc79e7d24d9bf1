-- The store's own tables. Portable SQL only: this runs on SQLite and PostgreSQL alike.
-- Integers are BIGINT and times are BIGINT milliseconds since the Unix epoch (UTC), the types
-- both backends and sqlx's Any driver agree on.

-- The installation's record: one row, describing the province this installation holds.
CREATE TABLE store_installation (
    id            BIGINT PRIMARY KEY CHECK (id = 1),
    province_code TEXT   NOT NULL CHECK (length(province_code) = 2),
    -- Decimal text: a seed is an unsigned 64-bit number, which BIGINT cannot hold.
    seed          TEXT   NOT NULL,
    people        BIGINT NOT NULL CHECK (people >= 0),
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Each component's current schema version, for operators and for `Store::schema_versions`.
CREATE VIEW store_schema_versions AS
SELECT component,
       MAX(version)       AS version,
       COUNT(*)           AS migrations,
       MAX(applied_at_ms) AS applied_at_ms
FROM store_migrations
GROUP BY component;
