-- An adapter on a virtual switch may be on one of the switch's VLANs (1 to 4094); null is the switch's
-- default VLAN, where the host's address is on an internal switch. Only an adapter on a switch has one.
ALTER TABLE nics ADD COLUMN vlan smallint CONSTRAINT nics_vlan_range CHECK (vlan BETWEEN 1 AND 4094);
ALTER TABLE nics ADD CONSTRAINT nics_vlan_needs_switch CHECK (vlan IS NULL OR switch_id IS NOT NULL);
