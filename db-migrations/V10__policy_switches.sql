-- The virtual switches a policy lets its users plug their VMs' adapters into; null is "not configured"
-- (no switch: their VMs' adapters stay on each VM's isolated network), as for templates and host groups.
ALTER TABLE policies ADD COLUMN switches text[];
