-- Members of the exchange: departments, each with a GB 32100 social credit code and the
-- Ed25519 keys that sign its requests and responses. A rotated key is kept with the time it
-- was retired, so signatures made before can still be checked.
CREATE TABLE exchange_members (
    id TEXT PRIMARY KEY,
    uscc TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    registered_at BIGINT NOT NULL
);

CREATE TABLE exchange_member_keys (
    member_id TEXT NOT NULL REFERENCES exchange_members (id),
    public_key TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    retired_at BIGINT,
    PRIMARY KEY (member_id, public_key)
);
