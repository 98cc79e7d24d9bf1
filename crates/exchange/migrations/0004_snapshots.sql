-- Bulk sync to the data center. Each row is one snapshot version of a dataset as one consumer
-- holds it: the SHA-256 of its Parquet file (the file's name), its parent version, the grant
-- and fields it was taken under, how many rows it holds and how many subjects changed since
-- the parent, the SHA-256 of the file listing those subjects, and the ledger leaves that
-- record it (the per-subject accesses first..access_end, then the snapshot entry).
CREATE TABLE exchange_snapshots (
    dataset TEXT NOT NULL,
    consumer TEXT NOT NULL,
    version BIGINT NOT NULL,
    id TEXT NOT NULL,
    parent TEXT,
    grant_id TEXT NOT NULL,
    fields TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    row_count BIGINT NOT NULL,
    changed BIGINT NOT NULL,
    delta TEXT NOT NULL,
    first_access BIGINT NOT NULL,
    access_end BIGINT NOT NULL,
    ledger_index BIGINT NOT NULL,
    PRIMARY KEY (dataset, consumer, version)
);

CREATE INDEX exchange_snapshots_id ON exchange_snapshots (id);
