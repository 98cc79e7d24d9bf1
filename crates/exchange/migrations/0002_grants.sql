-- Data requests (数据需求) and the grants (授权) that approving them produces. A grant's terms
-- are copied from its request when it is approved, so the grant alone says what is allowed.
-- Fields are a JSON array of the dataset's field names; a division scope is a 12-digit
-- statistical division code, or NULL for the whole province.
CREATE TABLE exchange_data_requests (
    id TEXT PRIMARY KEY,
    consumer TEXT NOT NULL REFERENCES exchange_members (id),
    owner TEXT NOT NULL,
    dataset TEXT NOT NULL,
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis_kind TEXT NOT NULL,
    legal_basis_ref TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    division_scope TEXT,
    mode TEXT NOT NULL,
    filed_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    decided_at BIGINT,
    reason TEXT,
    grant_id TEXT
);

CREATE TABLE exchange_grants (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES exchange_data_requests (id),
    consumer TEXT NOT NULL REFERENCES exchange_members (id),
    owner TEXT NOT NULL REFERENCES exchange_members (id),
    dataset TEXT NOT NULL,
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    legal_basis_kind TEXT NOT NULL,
    legal_basis_ref TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    division_scope TEXT,
    mode TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoke_reason TEXT
);

CREATE INDEX exchange_grants_consumer_dataset ON exchange_grants (consumer, dataset);
