-- The Keycloak groups a VM's owner was in when the VM was created, so that quota use can be shown
-- per group as well as per user (the server knows a user's groups only from their token).
ALTER TABLE vms ADD COLUMN owner_groups text[] NOT NULL DEFAULT '{}';
CREATE INDEX vms_owner_groups_idx ON vms USING gin (owner_groups);
