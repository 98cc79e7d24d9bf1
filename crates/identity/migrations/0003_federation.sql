-- Federation: logins through another region's provider (an upstream). A state row holds one
-- login on its way to the upstream and back; a link ties the upstream's subject to a local
-- account.
CREATE TABLE identity_federation_states (
    state_hash TEXT PRIMARY KEY,
    upstream TEXT NOT NULL,
    nonce TEXT NOT NULL,
    verifier TEXT NOT NULL,
    request_id TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE identity_federated_links (
    upstream TEXT NOT NULL,
    subject TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    linked_at BIGINT NOT NULL,
    PRIMARY KEY (upstream, subject)
);
