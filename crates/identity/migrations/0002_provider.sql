-- The OpenID Connect provider: clients, signing keys, pending authorisations, consents, codes
-- and tokens. Codes and tokens are kept only as SHA-256 hashes.

CREATE TABLE identity_clients (
    id TEXT PRIMARY KEY,
    secret_hash TEXT,
    name TEXT NOT NULL,
    purpose TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes TEXT NOT NULL,
    id_token_alg TEXT NOT NULL,
    min_level TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Signing keys. A retired key stays published in the JWKS until every token it signed has
-- expired, so relying parties can still verify them.
CREATE TABLE identity_signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    private_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

-- Authorisation requests waiting for login and consent, bound to the browser that began them.
CREATE TABLE identity_auth_requests (
    id TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    level TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Nonces and states already used by each client, so a replayed one is refused.
CREATE TABLE identity_used_values (
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, kind, value_hash)
);

CREATE TABLE identity_consents (
    account_id TEXT NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, client_id)
);

CREATE TABLE identity_codes (
    code_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    level TEXT NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- Access and refresh tokens. A refresh token belongs to a family that began with one code;
-- using a refresh token twice revokes its whole family.
CREATE TABLE identity_tokens (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    family TEXT NOT NULL,
    client_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    level TEXT NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);

CREATE INDEX identity_tokens_family ON identity_tokens (family);
CREATE INDEX identity_tokens_account ON identity_tokens (account_id);
