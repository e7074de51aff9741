-- A VM's CD-ROM drive, its own part of the VM: whether it has one, and the ISO image in it (null: empty).
-- A VM that boots from an ISO has always had one holding its boot image. The library item in the drive
-- stays in boot_library_item_id, which the library already reads as "in the VM's CD-ROM".
ALTER TABLE vms
    ADD COLUMN cdrom_drive boolean NOT NULL DEFAULT false,
    ADD COLUMN cdrom_image text,
    ADD CONSTRAINT vms_cdrom_image_needs_a_drive CHECK (cdrom_drive OR cdrom_image IS NULL);
UPDATE vms SET cdrom_drive = true, cdrom_image = boot_image WHERE boot_kind = 'ISO';
