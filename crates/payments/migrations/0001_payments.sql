-- Entitlements, payment attempts, batches, status reports and the outbox of ledger events.

-- One row whose update every writing transaction starts with, so that writers of the payment
-- tables run one at a time on both backends (a row lock on PostgreSQL, the write lock on
-- SQLite, taken before anything is read).
CREATE TABLE payments_lock (
    id BIGINT PRIMARY KEY,
    n  BIGINT NOT NULL
);
INSERT INTO payments_lock (id, n) VALUES (1, 0);

-- What a decision entitles a person to, at most once per policy and period.
CREATE TABLE payments_entitlements (
    id            BIGINT PRIMARY KEY,
    policy_id     TEXT   NOT NULL,
    period        TEXT   NOT NULL,
    subject_id    TEXT   NOT NULL,
    payee_name    TEXT   NOT NULL,
    account       TEXT   NOT NULL,
    bank          TEXT   NOT NULL,
    amount_fen    BIGINT NOT NULL,
    decision_ref  TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    attempts      BIGINT NOT NULL,
    end_to_end_id TEXT,
    batch_id      TEXT,
    reason        TEXT,
    created_ms    BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    UNIQUE (policy_id, period, subject_id)
);
CREATE INDEX payments_entitlements_status ON payments_entitlements (status, id);

-- Every time an entitlement was put in a batch, with what the bank said of it.
CREATE TABLE payments_attempts (
    end_to_end_id  TEXT   PRIMARY KEY,
    entitlement_id BIGINT NOT NULL,
    attempt        BIGINT NOT NULL,
    batch_id       TEXT   NOT NULL,
    status         TEXT   NOT NULL,
    reason         TEXT,
    reason_text    TEXT,
    updated_ms     BIGINT NOT NULL,
    UNIQUE (entitlement_id, attempt)
);
CREATE INDEX payments_attempts_batch ON payments_attempts (batch_id, entitlement_id);

-- One pain.001 file. `claimed` once its payments are taken, `written` once the file is durable.
CREATE TABLE payments_batches (
    msg_id          TEXT   PRIMARY KEY,
    seq             BIGINT NOT NULL UNIQUE,
    state           TEXT   NOT NULL,
    created_ms      BIGINT NOT NULL,
    nb_of_txs       BIGINT NOT NULL,
    ctrl_sum_fen    BIGINT NOT NULL,
    debtor_name     TEXT   NOT NULL,
    debtor_account  TEXT   NOT NULL,
    debtor_bank     TEXT   NOT NULL,
    initiating_name TEXT   NOT NULL,
    file_name       TEXT
);

-- Status reports (pain.002) imported, by their own MsgId, so one is never applied twice.
CREATE TABLE payments_reports (
    msg_id      TEXT   PRIMARY KEY,
    batch_id    TEXT   NOT NULL,
    imported_ms BIGINT NOT NULL,
    changed     BIGINT NOT NULL
);

-- Every state change, committed with the change itself; appended to the ledger in order of seq.
CREATE TABLE payments_events (
    seq            BIGINT PRIMARY KEY,
    entitlement_id BIGINT NOT NULL,
    status         TEXT   NOT NULL,
    end_to_end_id  TEXT,
    batch_id       TEXT,
    reason         TEXT,
    actor          TEXT   NOT NULL,
    at_ms          BIGINT NOT NULL
);
CREATE INDEX payments_events_entitlement ON payments_events (entitlement_id, seq);

-- How far the events are in the ledger, and the append in flight, if any.
CREATE TABLE payments_ledger_cursor (
    id               BIGINT PRIMARY KEY,
    logged_through   BIGINT NOT NULL,
    plan_first_seq   BIGINT,
    plan_last_seq    BIGINT,
    plan_first_index BIGINT
);
INSERT INTO payments_ledger_cursor (id, logged_through) VALUES (1, 0);

-- Events seq first_seq..=last_seq are ledger leaves first_index.. in the same order.
CREATE TABLE payments_ledger_chunks (
    first_seq   BIGINT PRIMARY KEY,
    last_seq    BIGINT NOT NULL,
    first_index BIGINT NOT NULL
);
