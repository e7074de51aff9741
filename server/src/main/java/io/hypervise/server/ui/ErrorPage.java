package io.hypervise.server.ui;

import io.hypervise.server.access.Caller;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

/** A refusal or a failure shown to a person in a browser: the page frame, and what went wrong in words. */
public final class ErrorPage {

    private ErrorPage() {
    }

    public static Response response(Caller caller, int status, String message) {
        String title = switch (status) {
            case 403 -> "Not allowed";
            case 404 -> "Not found";
            default -> "Something went wrong";
        };
        return Response.status(status).type(MediaType.TEXT_HTML_TYPE.withCharset("UTF-8"))
                .entity(Pages.error(Nav.of(caller, ""), title, message, Nav.home(caller)).render()).build();
    }
}
