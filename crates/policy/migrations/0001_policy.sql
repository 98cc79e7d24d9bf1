-- Enacted policy versions, enactments and the decisions they recorded, with the outbox cursor
-- of their ledger entries.

-- One row whose update every writing transaction starts with, so that enactments record their
-- decisions one at a time on both backends.
CREATE TABLE policy_lock (
    id BIGINT PRIMARY KEY,
    n  BIGINT NOT NULL
);
INSERT INTO policy_lock (id, n) VALUES (1, 0);

-- Every policy file enacted, by the SHA-256 of its bytes: a decision is reproduced from it.
CREATE TABLE policy_versions (
    hash        TEXT   PRIMARY KEY,
    policy_id   TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    recorded_ms BIGINT NOT NULL
);

-- One run of a policy over the data center: a batch run over everyone, or a delta run over
-- the subjects a sync touched. `sources` is the JSON list of the snapshots it read.
CREATE TABLE policy_enactments (
    id          BIGINT PRIMARY KEY,
    policy_id   TEXT   NOT NULL,
    policy_hash TEXT   NOT NULL,
    period      TEXT   NOT NULL,
    run         TEXT   NOT NULL,
    sources     TEXT   NOT NULL,
    evaluated   BIGINT NOT NULL,
    recorded    BIGINT NOT NULL,
    at_ms       BIGINT NOT NULL
);
CREATE INDEX policy_enactments_policy ON policy_enactments (policy_id, id);

-- A decision about one subject, for one policy period. A new row is recorded only when the
-- decision differs from the subject's latest one (by `digest`); `seq` numbers the rows without
-- gaps, in the order their ledger entries take, and `leaf` is the entry's index once logged.
-- `held` is one character per condition, then '|', then one per exclusion ('1' held, '0' not);
-- `vals` is the JSON array of the input values, in the policy's order.
CREATE TABLE policy_decisions (
    seq          BIGINT PRIMARY KEY,
    enactment_id BIGINT NOT NULL,
    policy_id    TEXT   NOT NULL,
    period       TEXT   NOT NULL,
    subject_id   TEXT   NOT NULL,
    eligible     BIGINT NOT NULL,
    payable      BIGINT NOT NULL,
    amount_fen   BIGINT NOT NULL,
    near_miss    TEXT,
    held         TEXT   NOT NULL,
    vals         TEXT   NOT NULL,
    digest       TEXT   NOT NULL,
    decided_ms   BIGINT NOT NULL,
    leaf         BIGINT
);
CREATE INDEX policy_decisions_period ON policy_decisions (policy_id, period, subject_id, seq);
CREATE INDEX policy_decisions_subject ON policy_decisions (subject_id, seq);

-- How far the decisions are in the ledger, and the append planned but not yet confirmed: after
-- a crash the log is compared with the plan, so every decision is logged exactly once.
CREATE TABLE policy_ledger_cursor (
    id               BIGINT PRIMARY KEY,
    logged_through   BIGINT NOT NULL,
    plan_first_seq   BIGINT,
    plan_last_seq    BIGINT,
    plan_first_index BIGINT
);
INSERT INTO policy_ledger_cursor (id, logged_through) VALUES (1, 0);
