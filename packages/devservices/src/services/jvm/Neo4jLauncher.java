// Starts an embedded Neo4j (Community) with a Bolt connector on loopback, for
// tests and the dev stack. Run it as a Java 17 single-file source program:
//
//   java -cp '<jar dir>/*' Neo4jLauncher.java <homeDir> <boltPort>
//
// (neo4j.ts compiles it once with javac instead, to save the compile on every start.)
//
// Authentication is off: the server listens on 127.0.0.1 only and holds test
// data. neo4j.ts waits for the READY line below and then for a real Bolt
// handshake; any start-up failure exits with status 1 so the caller sees the
// process die at once instead of waiting for its deadline.

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

public class Neo4jLauncher {
  /** neo4j.ts matches these prefixes; keep the two in step. */
  static final String READY_PREFIX = "NEO4J_LAUNCHER_READY";
  static final String FAILED_PREFIX = "NEO4J_LAUNCHER_FAILED";

  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: java -cp '<jars>/*' Neo4jLauncher.java <homeDir> <boltPort>");
      System.exit(2);
    }
    Path homeDir = Path.of(args[0]).toAbsolutePath();
    int boltPort = Integer.parseInt(args[1]);
    DatabaseManagementService managementService;
    try {
      managementService = new DatabaseManagementServiceBuilder(homeDir)
          // The user log (start-up, errors) goes to stdout and so into the
          // log file that spawnManaged writes; debug.log stays under homeDir/logs.
          .setUserLogProvider(new Log4jLogProvider(System.out, Level.INFO))
          .setConfig(BoltConnector.enabled, true)
          .setConfig(BoltConnector.listen_address, new SocketAddress("127.0.0.1", boltPort))
          .setConfig(BoltConnector.advertised_address, new SocketAddress("127.0.0.1", boltPort))
          .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
          // Few Bolt worker threads: the test machine has 2 cores shared with Kafka and Postgres.
          .setConfig(BoltConnector.thread_pool_max_size, 32)
          .setConfig(GraphDatabaseSettings.auth_enabled, false)
          // No usage reports: tests must not reach out of loopback.
          .setConfig(GraphDatabaseSettings.udc_enabled, false)
          // 128 MiB page cache instead of "half of free RAM", so several JVMs fit side by side.
          .setConfig(GraphDatabaseSettings.pagecache_memory, 128L * 1024 * 1024)
          // No 256 MiB pre-allocated transaction logs per database in throw-away test dirs.
          .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
          .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, 16L * 1024 * 1024)
          // Netty waits a 5 s quiet period per Bolt event loop group on shutdown
          // (10 s in all); tests stop servers often. Internal setting, present in
          // 5.26 (the pinned version): revisit when bumping Neo4j.
          .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0)
          .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_timeout, Duration.ofSeconds(5))
          .build();
    } catch (Throwable error) {
      fail("could not start the DBMS in " + homeDir, error);
      return;
    }

    CountDownLatch stopped = new CountDownLatch(1);
    // SIGTERM (what ManagedProcess.stop() sends) runs shutdown hooks: close
    // the stores cleanly so the data dir can be reused without recovery.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("Neo4jLauncher: shutting down");
      try {
        managementService.shutdown();
      } finally {
        stopped.countDown();
      }
    }, "neo4j-launcher-shutdown"));

    try {
      GraphDatabaseService db = managementService.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
      // Bolt may already listen while the default database is still starting;
      // report ready only once a query could actually run.
      if (!db.isAvailable(Duration.ofMinutes(2).toMillis())) {
        throw new IllegalStateException("database '" + db.databaseName() + "' not available after 2 minutes");
      }
    } catch (Throwable error) {
      fail("the default database did not become available", error);
      return;
    }

    System.out.println(READY_PREFIX + " bolt://127.0.0.1:" + boltPort + " home=" + homeDir);
    System.out.flush();

    // Neo4j's own threads keep the JVM alive; wait here so main does not end
    // before a shutdown has been asked for.
    try {
      while (!stopped.await(1, TimeUnit.HOURS)) {
        // keep waiting
      }
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Exits at once: Neo4j's non-daemon threads would otherwise keep a failed
   * JVM alive until the caller's deadline. The one-line root cause comes last
   * (after the stack trace) so it is easy to find and quote.
   */
  static void fail(String what, Throwable error) {
    error.printStackTrace();
    Throwable root = error;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    System.err.println(FAILED_PREFIX + " " + what + ": " + root);
    System.err.flush();
    System.exit(1);
  }
}
