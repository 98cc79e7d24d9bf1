-- Cases, their history, ratings, follow-ups of bad ratings, and the outbox of ledger entries.

-- One row whose update every writing transaction starts with, so that writers of the services
-- tables run one at a time on both backends (a row lock on PostgreSQL, the write lock on
-- SQLite, taken before anything is read).
CREATE TABLE services_lock (
    id BIGINT PRIMARY KEY,
    n  BIGINT NOT NULL
);
INSERT INTO services_lock (id, n) VALUES (1, 0);

-- One application being handled (办件). The service's department, version and time limit are
-- copied at submission, so a later change of the catalogue leaves the case as it was. `form` is
-- the JSON object of the submitted values; `division` is the applicant's 12-digit division
-- code, by which staff queues are scoped; `due_ms` is the end of the last working day.
CREATE TABLE services_cases (
    id              BIGINT PRIMARY KEY,
    service_id      TEXT   NOT NULL,
    service_version BIGINT NOT NULL,
    department      TEXT   NOT NULL,
    applicant       TEXT   NOT NULL,
    division        TEXT   NOT NULL,
    state           TEXT   NOT NULL,
    form            TEXT   NOT NULL,
    time_limit_days BIGINT NOT NULL,
    submitted_ms    BIGINT NOT NULL,
    due_date        TEXT   NOT NULL,
    due_ms          BIGINT NOT NULL,
    updated_ms      BIGINT NOT NULL
);
CREATE INDEX services_cases_queue ON services_cases (department, state, due_ms, id);
CREATE INDEX services_cases_applicant ON services_cases (applicant, id);

-- Everything that happened to a case, numbered by `seq` without gaps in the order of their
-- ledger entries: transitions (`kind` 'transition', from and to state), ratings ('rating',
-- `detail` the level) and answers to follow-ups ('follow_up', `detail` its id). `note` is the
-- free text (a note, a comment, an answer); it stays here and only its presence goes to the
-- ledger. `leaf` is the ledger entry's index once appended.
CREATE TABLE services_events (
    seq        BIGINT PRIMARY KEY,
    case_id    BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    detail     TEXT,
    actor_kind TEXT   NOT NULL,
    actor_id   TEXT,
    actor_role TEXT,
    note       TEXT,
    at_ms      BIGINT NOT NULL,
    leaf       BIGINT
);
CREATE INDEX services_events_case ON services_events (case_id, seq);

-- The applicant's rating of a finished case (好差评), at most one per case.
CREATE TABLE services_ratings (
    case_id  BIGINT PRIMARY KEY,
    level    TEXT   NOT NULL,
    comment  TEXT,
    rated_ms BIGINT NOT NULL,
    seq      BIGINT NOT NULL
);

-- The follow-up a bad rating opens, to be answered by the department within 15 working days.
CREATE TABLE services_follow_ups (
    id            BIGINT PRIMARY KEY,
    case_id       BIGINT NOT NULL UNIQUE,
    opened_ms     BIGINT NOT NULL,
    due_date      TEXT   NOT NULL,
    due_ms        BIGINT NOT NULL,
    answer        TEXT,
    answered_by   TEXT,
    answered_role TEXT,
    answered_ms   BIGINT
);
CREATE INDEX services_follow_ups_open ON services_follow_ups (answered_ms, due_ms, id);

-- How far the events are in the ledger, and the append planned but not yet confirmed.
CREATE TABLE services_ledger_cursor (
    id               BIGINT PRIMARY KEY,
    logged_through   BIGINT NOT NULL,
    plan_first_seq   BIGINT,
    plan_last_seq    BIGINT,
    plan_first_index BIGINT
);
INSERT INTO services_ledger_cursor (id, logged_through) VALUES (1, 0);
