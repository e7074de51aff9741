package io.hypervise.server.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Just enough of a browser for Keycloak's login page and our pages, without Chromium: it keeps
 * cookies and leaves redirects to the caller (or follows them through a sign-in). Keycloak marks its
 * cookies Secure, which browsers honour on http://127.0.0.1 (a secure context) but
 * java.net.CookieManager does not, so cookies are kept by hand, by name: Keycloak and the server are
 * both on 127.0.0.1, where cookies ignore the port.
 */
public final class HttpBrowser {

    private static final Pattern LOGIN_FORM = Pattern.compile("action=\"([^\"]*login-actions/authenticate[^\"]*)\"");

    private final HttpClient http = HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final Map<String, String> cookies = new LinkedHashMap<>();

    public HttpBrowser() {
    }

    /** A browser that sends these cookies, e.g. replaying a session that was signed out. */
    public HttpBrowser(Map<String, String> cookies) {
        this.cookies.putAll(cookies);
    }

    /** The cookies as they are now (a copy). */
    public Map<String, String> cookies() {
        return new LinkedHashMap<>(cookies);
    }

    public HttpResponse<String> get(URI uri) {
        return send("GET", uri, HttpRequest.BodyPublishers.noBody(), null);
    }

    public HttpResponse<String> postForm(URI uri, Map<String, String> form) {
        return send("POST", uri, HttpRequest.BodyPublishers.ofString(Tokens.formEncode(form)), "application/x-www-form-urlencoded");
    }

    public HttpResponse<String> send(String method, URI uri, HttpRequest.BodyPublisher body, String contentType) {
        return sendWith(method, uri, body, contentType == null ? Map.of() : Map.of("Content-Type", contentType));
    }

    /** A request with these headers, as a page's script sends it (htmx's HX-Request, tus's, ...). */
    public HttpResponse<String> sendWith(String method, URI uri, HttpRequest.BodyPublisher body, Map<String, String> headers) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).method(method, body);
        headers.forEach(request::header);
        if (!cookies.isEmpty()) {
            request.header("Cookie", cookies.entrySet().stream()
                    .map(c -> c.getKey() + "=" + c.getValue())
                    .collect(Collectors.joining("; ")));
        }
        try {
            HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            for (String header : response.headers().allValues("Set-Cookie")) {
                String[] nameValue = header.split(";", 2)[0].split("=", 2);
                String name = nameValue[0].trim();
                String value = nameValue.length > 1 ? nameValue[1] : "";
                if (value.isEmpty() || header.toLowerCase().contains("max-age=0")) {
                    cookies.remove(name);
                } else {
                    cookies.put(name, value);
                }
            }
            return response;
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + uri + " failed", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted during " + method + " " + uri, e);
        }
    }

    /**
     * Signs in to the server at {@code base} as a person does: its /login sends the browser to
     * Keycloak's form, which is filled in, and the redirects are followed back to the server. Returns
     * the last answer (for a wrong password: Keycloak's form again, with its error).
     */
    public HttpResponse<String> signIn(String base, String user, String password) {
        HttpResponse<String> response = get(URI.create(base + "/login"));
        boolean submitted = false;
        for (int hop = 0; hop < 20; hop++) {
            if (response.statusCode() / 100 == 3) {
                response = get(response.uri().resolve(response.headers().firstValue("Location").orElseThrow()));
            } else if (!submitted && response.statusCode() == 200 && LOGIN_FORM.matcher(response.body()).find()) {
                response = postForm(loginFormAction(response.body()), Map.of("username", user, "password", password,
                        "credentialId", ""));
                submitted = true;
            } else {
                return response;
            }
        }
        throw new IllegalStateException("signing in as " + user + " did not end after 20 redirects, at " + response.uri());
    }

    /** Where Keycloak's login page posts its form. */
    public static URI loginFormAction(String loginPage) {
        Matcher action = LOGIN_FORM.matcher(loginPage);
        if (!action.find()) {
            throw new IllegalStateException("no login form in:\n" + loginPage);
        }
        return URI.create(action.group(1).replace("&amp;", "&"));
    }
}
