-- The first statement succeeds and the second fails: the whole migration must roll back.
CREATE TABLE broken_second (id BIGINT PRIMARY KEY);
CREATE TABLE broken_second (id BIGINT PRIMARY KEY);
