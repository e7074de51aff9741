package io.hypervise.bench.console;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Signs in to the server's pages as a browser does: Keycloak's login form filled in (the demo users'
 * passwords are their names), after which the server keeps a session cookie in the client's cookie jar
 * ({@link LoopbackCookies}; the client must follow redirects).
 */
public final class BrowserSignIn {

    private BrowserSignIn() {
    }

    /** Opens {@code page}, signing in as {@code user} on the way if asked; fails unless it ends on the page. */
    public static void signIn(HttpClient http, URI page, String user) throws Exception {
        HttpResponse<String> form = http.send(HttpRequest.newBuilder(page).build(), HttpResponse.BodyHandlers.ofString());
        if (form.uri().getPath().equals(page.getPath())) {
            return; // signed in already
        }
        Matcher action = Pattern.compile("<form[^>]*id=\"kc-form-login\"[^>]*action=\"([^\"]+)\"").matcher(form.body());
        if (!action.find()) {
            action = Pattern.compile("action=\"([^\"]+login-actions/authenticate[^\"]*)\"").matcher(form.body());
            if (!action.find()) {
                throw new IllegalStateException("no Keycloak login form at " + form.uri());
            }
        }
        String body = "username=" + URLEncoder.encode(user, StandardCharsets.UTF_8) + "&password="
                + URLEncoder.encode(user, StandardCharsets.UTF_8) + "&credentialId=";
        HttpResponse<String> done = http.send(HttpRequest.newBuilder(URI.create(action.group(1).replace("&amp;", "&")))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (!done.uri().getPath().equals(page.getPath()) || done.statusCode() != 200) {
            throw new IllegalStateException("signing in as " + user + " ended at " + done.uri() + " (" + done.statusCode() + "): "
                    + done.body().replaceAll("(?s)<[^>]*>", " ").replaceAll("\\s+", " ").strip());
        }
    }
}
