import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.List;

import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single-node OpenSearch on loopback, started the way OpenSearch's own test framework does
 * (MockNode): a {@link Node} subclass given its plugins as classes on the classpath, so no
 * distribution, plugin directory or security plugin is involved.
 *
 * <p>Usage: {@code java Launcher HTTP_PORT HOME_DIR [watch-stdin]}. Data and logs go under
 * HOME_DIR. Prints {@code started http://127.0.0.1:PORT} once HTTP answers, then runs until
 * SIGTERM/SIGINT or, with {@code watch-stdin}, until standard input closes (the parent went
 * away); either way the node is closed cleanly by the shutdown hook.
 */
public final class Launcher {

    /** The node, with the HTTP transport (Netty 4) as a classpath plugin. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment environment, List<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    private Launcher() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || args.length > 3
            || (args.length == 3 && !args[2].equals("watch-stdin"))) {
            System.err.println("usage: Launcher HTTP_PORT HOME_DIR [watch-stdin]");
            System.exit(2);
        }
        String port = args[0];
        Path home = Paths.get(args[1]).toAbsolutePath();
        Files.createDirectories(home.resolve("config"));
        Settings settings = Settings.builder()
            .put("cluster.name", "omphalos-test")
            .put("node.name", "omphalos-test-node")
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", "0")
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("discovery.type", "single-node")
            // a shared test machine's disk may be fuller than the watermarks: never go read-only
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.auto_create_index", true)
            .build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), home.resolve("config"), () -> "omphalos-test-node");
        Node node = new ClasspathNode(environment, List.of(Netty4Plugin.class));
        Thread closer = new Thread(() -> close(node), "node-closer");
        Runtime.getRuntime().addShutdownHook(closer);
        node.start();
        System.out.println("started http://127.0.0.1:" + port);
        System.out.flush();
        if (args.length == 3) {
            InputStream in = System.in;
            while (in.read() >= 0) {
                // run until standard input closes
            }
            System.exit(0);
        }
        Thread.currentThread().join();  // until a signal runs the shutdown hook
    }

    private static void close(Node node) {
        try {
            node.close();
        } catch (IOException e) {
            e.printStackTrace();
        }
    }
}
