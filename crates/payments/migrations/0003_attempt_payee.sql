-- What each attempt sent to the bank: the payee and the amount as they were at export. An
-- entitlement's account can be bound again after a rejection, and its amount can change when
-- it is reinstated, so the attempt keeps its own copy for the batch's detail. Empty for
-- attempts exported before this column existed; they read the entitlement's.
ALTER TABLE payments_attempts ADD COLUMN payee_name TEXT;
ALTER TABLE payments_attempts ADD COLUMN account TEXT;
ALTER TABLE payments_attempts ADD COLUMN bank TEXT;
ALTER TABLE payments_attempts ADD COLUMN amount_fen BIGINT;
