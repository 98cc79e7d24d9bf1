-- Staff roles: what an account may do as department staff, scoped by department and by the
-- prefix of the 12-digit division code it covers ('' is the whole installation).
CREATE TABLE identity_staff_roles (
    account_id TEXT NOT NULL REFERENCES identity_accounts (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    department TEXT NOT NULL,
    division TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, role, department, division)
);
