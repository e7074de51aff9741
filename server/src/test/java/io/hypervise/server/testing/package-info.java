/**
 * What the server's tests share, kept apart from the tests themselves: the Keycloak and data-directory
 * test resources, tokens, browsers (Chromium and plain HTTP), a packaged server to start and kill, and
 * policies that let test users act.
 */
package io.hypervise.server.testing;
