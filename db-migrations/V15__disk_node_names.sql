-- A disk added while its VM ran keeps the name QEMU knows it by (disk<k>) whatever its position becomes;
-- null: disk<position>, as every disk was named before.
ALTER TABLE disks ADD COLUMN node_name text CHECK (node_name ~ '^disk[0-9]{1,3}$');
