-- Accounts, phone codes, the outbox and its development channel, sessions, and lockout.
-- Times are milliseconds since the Unix epoch, UTC; flags are BIGINT 0 or 1.

-- Secrets the installation generates once: the key of pairwise subjects and of device cookies.
CREATE TABLE identity_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- A citizen's account. The ID number and name are what the citizen gave; real_name_checked_at
-- says when household registration confirmed them (level L2), real_name_ledger which ledger
-- entry recorded that read. Only one checked account may hold an ID number, so an unchecked
-- claim cannot keep the real holder out.
CREATE TABLE identity_accounts (
    id TEXT PRIMARY KEY,
    citizen_id TEXT NOT NULL,
    name TEXT NOT NULL,
    phone TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    phone_confirmed_at BIGINT,
    real_name_checked_at BIGINT,
    real_name_ledger BIGINT,
    totp_secret TEXT,
    totp_enabled BIGINT NOT NULL DEFAULT 0,
    totp_last_step BIGINT
);

CREATE UNIQUE INDEX identity_accounts_checked_citizen
    ON identity_accounts (citizen_id) WHERE real_name_checked_at IS NOT NULL;

-- The one live phone code of an account, kept as a keyed hash, with its failed tries.
CREATE TABLE identity_phone_codes (
    account_id TEXT PRIMARY KEY REFERENCES identity_accounts (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0
);

-- Messages waiting for a channel. A message is written in the same step as what caused it and
-- sent afterwards, so a failed send is retried rather than lost.
CREATE TABLE identity_outbox (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);

-- What the development channel "sent".
CREATE TABLE identity_dev_messages (
    id TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    delivered_at BIGINT NOT NULL
);

-- Server-side sessions, known by the SHA-256 of the cookie's value.
CREATE TABLE identity_sessions (
    id_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    level TEXT NOT NULL,
    amr TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX identity_sessions_account ON identity_sessions (account_id);

-- Failed logins per account and source: one device (by its cookie) or every untrusted source
-- together. A lock is always temporary.
CREATE TABLE identity_login_failures (
    account_id TEXT NOT NULL,
    source TEXT NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL,
    PRIMARY KEY (account_id, source)
);
