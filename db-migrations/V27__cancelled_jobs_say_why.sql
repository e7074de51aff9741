-- A cancelled job says where it left things (a live migration's guest runs on at its source), as a failed one says
-- why it failed (issue 19: cancelling migrations). V1 allowed an error only on a failed job.
ALTER TABLE jobs DROP CONSTRAINT jobs_failed_job_has_an_error;
ALTER TABLE jobs ADD CONSTRAINT jobs_failed_job_has_an_error CHECK (state <> 'FAILED' OR error IS NOT NULL);
ALTER TABLE jobs ADD CONSTRAINT jobs_only_ended_jobs_have_an_error CHECK (error IS NULL OR state IN ('FAILED', 'CANCELLED'));
