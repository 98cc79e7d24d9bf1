CREATE TABLE alpha_things (
    id   BIGINT PRIMARY KEY,
    name TEXT NOT NULL
);
