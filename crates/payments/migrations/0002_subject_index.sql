-- The portal lists a citizen's entitlements on every visit of their home page.
CREATE INDEX payments_entitlements_subject ON payments_entitlements (subject_id);
