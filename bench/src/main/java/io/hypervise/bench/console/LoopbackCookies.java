package io.hypervise.bench.console;

import java.net.CookieHandler;
import java.net.URI;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * A cookie jar for one benchmark on 127.0.0.1, as a browser keeps it there: Keycloak sends
 * RFC 2965-style cookies marked Secure even over plain HTTP, which browsers accept for the loopback
 * address and the JDK's CookieManager drops. Cookies are kept per host by name; attributes other
 * than an immediate expiry are ignored (good enough for a sign-in, not a browser).
 */
public final class LoopbackCookies extends CookieHandler {

    private final Map<String, Map<String, String>> byHost = new ConcurrentHashMap<>();

    @Override
    public Map<String, List<String>> get(URI uri, Map<String, List<String>> requestHeaders) {
        String cookies = header(uri);
        return cookies.isEmpty() ? Map.of() : Map.of("Cookie", List.of(cookies));
    }

    @Override
    public void put(URI uri, Map<String, List<String>> responseHeaders) {
        responseHeaders.forEach((name, values) -> {
            if (!name.equalsIgnoreCase("Set-Cookie")) {
                return;
            }
            Map<String, String> jar = byHost.computeIfAbsent(uri.getHost(), h -> new ConcurrentHashMap<>());
            for (String value : values) {
                String pair = value.split(";", 2)[0];
                int eq = pair.indexOf('=');
                if (eq <= 0) {
                    continue;
                }
                String cookie = pair.substring(0, eq).strip();
                boolean expired = value.toLowerCase().contains("max-age=0") || pair.substring(eq + 1).isBlank();
                if (expired) {
                    jar.remove(cookie);
                } else {
                    jar.put(cookie, pair.substring(eq + 1).strip());
                }
            }
        });
    }

    /** The Cookie header for the URI's host. */
    String header(URI uri) {
        return byHost.getOrDefault(uri.getHost(), Map.of()).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; "));
    }
}
