-- An adapter added while its VM ran keeps the name QEMU knows it by (net<k>, and its switch port's number k)
-- whatever its position becomes; null: net<position>, as every adapter was named before.
ALTER TABLE nics ADD COLUMN node_name text CHECK (node_name ~ '^net[0-9]{1,3}$');
