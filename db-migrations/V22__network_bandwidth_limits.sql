-- Network bandwidth limits on a VM's switch ports (engine Resources: networkReceiveBitsPerSecond and
-- networkTransmitBitsPerSecond), in bits per second; null means no limit. The same two columns for the
-- resource controls a policy imposes on every VM its users create (V20). The range is the engine
-- validator's: 64 kbit/s to 100 Gbit/s.
ALTER TABLE vms
    ADD COLUMN network_receive_bits_per_second bigint
        CHECK (network_receive_bits_per_second BETWEEN 64000 AND 100000000000),
    ADD COLUMN network_transmit_bits_per_second bigint
        CHECK (network_transmit_bits_per_second BETWEEN 64000 AND 100000000000);
ALTER TABLE policies
    ADD COLUMN network_receive_bits_per_second bigint
        CHECK (network_receive_bits_per_second BETWEEN 64000 AND 100000000000),
    ADD COLUMN network_transmit_bits_per_second bigint
        CHECK (network_transmit_bits_per_second BETWEEN 64000 AND 100000000000);
