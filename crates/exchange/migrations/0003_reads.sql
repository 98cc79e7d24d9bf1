-- Per-subject reads. Request identifiers already used by each consumer, so a replayed request
-- is refused; and the index from a subject's keyed hash to the ledger leaves that record reads
-- of their data (allowed or refused), which the citizen's data tracker reads.
CREATE TABLE exchange_seen_requests (
    consumer TEXT NOT NULL,
    request_id TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (consumer, request_id)
);

CREATE TABLE exchange_access_index (
    subject TEXT NOT NULL,
    leaf BIGINT NOT NULL,
    consumer TEXT NOT NULL,
    dataset TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (subject, leaf)
);
