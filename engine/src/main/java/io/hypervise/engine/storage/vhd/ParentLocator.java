package io.hypervise.engine.storage.vhd;

/**
 * Where the tool that made a differencing disk says its parent was, as one of the dynamic header's eight
 * parent locators. A hint for whoever resolves parents, never a path Hypervise opens.
 *
 * @param path the locator's text, unprintable characters shown as '?'; a Mac alias record (not text) is
 *             shown as "(Mac alias record)"
 */
public record ParentLocator(Platform platform, String path) {

    /** The platform codes of the VHD specification. */
    public enum Platform {
        /** Windows absolute path, UTF-16LE. */
        W2KU(0x57326B75, "W2ku"),
        /** Windows path relative to the child, UTF-16LE. */
        W2RU(0x57327275, "W2ru"),
        /** Deprecated Windows absolute path. */
        WI2K(0x5769326B, "Wi2k"),
        /** Deprecated Windows relative path. */
        WI2R(0x57693272, "Wi2r"),
        /** Mac OS alias record. */
        MAC(0x4D616320, "Mac "),
        /** Mac OS X file URL, UTF-8. */
        MACX(0x4D616358, "MacX");

        private final int code;
        private final String label;

        Platform(int code, String label) {
            this.code = code;
            this.label = label;
        }

        public int code() {
            return code;
        }

        public String label() {
            return label;
        }

        static Platform of(int code) {
            for (Platform p : values()) {
                if (p.code == code) {
                    return p;
                }
            }
            return null;
        }
    }
}
