-- Passkeys (WebAuthn credentials) as a second factor. `passkey` is the credential as webauthn-rs
-- keeps it (JSON: its id, public key and signature counter); `counter` repeats the counter so
-- that an authentication can raise it only if nobody raised it past this use first.
CREATE TABLE identity_passkeys (
    credential_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    passkey TEXT NOT NULL,
    counter BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX identity_passkeys_account ON identity_passkeys (account_id);

-- A ceremony between its two requests: the challenge and what webauthn-rs needs to check the
-- answer (JSON), known by the SHA-256 of the id the browser holds; each is used once.
CREATE TABLE identity_passkey_ceremonies (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
