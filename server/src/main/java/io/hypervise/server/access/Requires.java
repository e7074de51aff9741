package io.hypervise.server.access;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * The permission an endpoint needs. Every API endpoint declares one; one without it is refused to
 * everybody ({@link PermissionFilter} fails closed). Endpoints whose reach is {@link Reach#OWN} check
 * ownership themselves, since only they know what is being touched.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
public @interface Requires {
    Permission value();
}
