package io.hypervise.server.library;

import io.hypervise.engine.storage.ImageFormat;

/**
 * What an item will be, as its uploader or importer asked: checked field by field before any byte is
 * taken. {@code declared} null: the format is detected from the file's magic bytes.
 */
public record ItemSpec(String owner, String name, String description, ItemKind kind, ImageFormat declared,
        String expectedSha256, Visibility visibility, String[] groups) {
}
