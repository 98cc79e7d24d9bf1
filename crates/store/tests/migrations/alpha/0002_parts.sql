CREATE TABLE alpha_parts (
    id       BIGINT PRIMARY KEY,
    thing_id BIGINT NOT NULL REFERENCES alpha_things (id),
    weight   DOUBLE PRECISION NOT NULL
);
CREATE INDEX alpha_parts_thing ON alpha_parts (thing_id);
