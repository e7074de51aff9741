package io.hypervise.server.console;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The console's WebSocket is opened only by this server's own pages: same scheme, host and port (RFC 6454). */
class ConsoleOriginTest {

    @Test
    void thisServersOwnPagesMayOpenIt() {
        assertThat(ConsoleHandshake.sameOrigin("http://127.0.0.1:8080", "http", "127.0.0.1:8080")).isTrue();
        assertThat(ConsoleHandshake.sameOrigin("https://hv.example.org", "https", "hv.example.org")).isTrue();
        assertThat(ConsoleHandshake.sameOrigin("HTTP://HV.example.org:80", "http", "hv.example.org")).as("case, the default port").isTrue();
        assertThat(ConsoleHandshake.sameOrigin("https://hv.example.org", "https", "hv.example.org:443")).isTrue();
        assertThat(ConsoleHandshake.sameOrigin("http://[::1]:8080", "http", "[::1]:8080")).isTrue();
    }

    @Test
    void noOriginIsNoBrowser() {
        assertThat(ConsoleHandshake.sameOrigin(null, "http", "127.0.0.1:8080")).isTrue();
    }

    @Test
    void anotherSchemeHostOrPortIsAnotherSite() {
        assertThat(ConsoleHandshake.sameOrigin("https://127.0.0.1:8080", "http", "127.0.0.1:8080")).as("scheme").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://hv.example.org", "https", "hv.example.org")).as("scheme, default ports").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://127.0.0.1:8081", "http", "127.0.0.1:8080")).as("port").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://127.0.0.1", "http", "127.0.0.1:8080")).as("default port").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://evil.example:8080", "http", "127.0.0.1:8080")).as("host").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://127.0.0.1:8080.evil.example", "http", "127.0.0.1:8080")).isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://user@127.0.0.1:8080", "http", "127.0.0.1:8080")).as("user info").isFalse();
    }

    @Test
    void whatIsNoOriginAtAllIsRefused() {
        assertThat(ConsoleHandshake.sameOrigin("null", "http", "127.0.0.1:8080")).as("an opaque origin").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("127.0.0.1:8080", "http", "127.0.0.1:8080")).isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://127.0.0.1:8080/path", "http", "127.0.0.1:8080")).as("not an origin").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("ws://127.0.0.1:8080", "http", "127.0.0.1:8080")).isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://127.0.0.1:8080", "http", null)).as("no Host header").isFalse();
        assertThat(ConsoleHandshake.sameOrigin("http://a b", "http", "a b")).isFalse();
    }
}
