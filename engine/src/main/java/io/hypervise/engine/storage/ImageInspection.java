package io.hypervise.engine.storage;

/**
 * What Hypervise's own reading of an image found: its format (as detected, or as declared where the
 * bytes cannot tell, as for raw), the variant (a VHD's "fixed" or "dynamic"; else null), the size the
 * guest sees, and the bytes the file takes on the host.
 */
public record ImageInspection(ImageFormat format, String variant, long virtualBytes, long actualBytes) {
}
