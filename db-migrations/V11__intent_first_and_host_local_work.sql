-- Nothing happens that the audit log does not record: an action on a VM is recorded as REQUESTED (the
-- intent, committed before the engine is asked) and then as SUCCEEDED or FAILED (the outcome).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_outcome_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_outcome_check
    CHECK (outcome IN ('REQUESTED', 'SUCCEEDED', 'FAILED', 'DENIED'));
ALTER TABLE audit_log DROP CONSTRAINT audit_log_failure_or_denial_has_a_reason;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_failure_or_denial_has_a_reason
    CHECK (outcome IN ('REQUESTED', 'SUCCEEDED') OR reason IS NOT NULL);

-- A VM whose creation or deletion has begun but not ended: the row is written (creation) or marked
-- (deletion) before the engine acts, so a server killed in between finds at its next start what it was
-- doing, for whom, and finishes or undoes it. Null for every settled VM.
ALTER TABLE vms ADD COLUMN pending text CHECK (pending IN ('CREATING', 'DELETING'));

-- The host whose server runs a job: at start a server settles its own jobs that its death interrupted,
-- and only those. Jobs from before this column are nobody's and are settled by the first server to start.
ALTER TABLE jobs ADD COLUMN host_id text REFERENCES hosts (id) ON DELETE SET NULL;
