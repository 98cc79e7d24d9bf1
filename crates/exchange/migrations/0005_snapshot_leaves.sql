-- Where a snapshot's per-subject access entries sit in the ledger, so that the data tracker
-- finds a citizen's bulk reads without one index row per subject per sync. The delta file
-- lists the touched subjects in the order their entries were appended. Entries go to the
-- ledger in batches and other records may land between two batches, so each batch is one
-- row: the delta file's rows position..position+len are the leaves leaf..leaf+len.
CREATE TABLE exchange_snapshot_leaves (
    dataset TEXT NOT NULL,
    consumer TEXT NOT NULL,
    version BIGINT NOT NULL,
    position BIGINT NOT NULL,
    leaf BIGINT NOT NULL,
    len BIGINT NOT NULL,
    PRIMARY KEY (dataset, consumer, version, position)
);
