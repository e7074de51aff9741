package io.hypervise.server.database;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

/**
 * Stands in for a server in a JVM of its own, so that a test can kill it outright: it starts the
 * embedded PostgreSQL, writes a row, says READY and waits to be killed.
 */
public final class ServerThatGetsKilled {

    public static void main(String[] args) throws Exception {
        EmbeddedPostgres pg = EmbeddedPostgres.start(new EmbeddedPostgres.Settings(Path.of(args[0]), "hypervise", 0));
        try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), EmbeddedPostgres.OWNER, pg.ownerPassword());
                Statement s = c.createStatement()) {
            s.execute("CREATE TABLE survivor (note text)");
            s.execute("INSERT INTO survivor VALUES ('written before the server was killed')");
        }
        System.out.println("READY " + pg.postmaster().orElseThrow().pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
