-- A VM being sent as an archive (GET /api/v1/vms/{id}/export) is Off and stays so until the last byte.
ALTER TABLE vms DROP CONSTRAINT vms_pending_check;
ALTER TABLE vms ADD CONSTRAINT vms_pending_check CHECK (pending IN ('CREATING', 'DELETING', 'STORING', 'EXPORTING'));
