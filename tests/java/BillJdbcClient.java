// The Bill-Inquiry service's side, the way a Spring Boot service connects: pgjdbc + HikariCP
// pools built from `billdb app-config --format jdbc-json`, and the column envelope of
// docs/envelope.md with javax.crypto. Compiled and run by tests/test_client_jdbc.py.
// Passwords are read from the Secret volume file the JSON names (`passwordFile`), again for
// every new connection, so a rotated Secret is followed without a restart (never printed).
// Every mode prints one JSON line per result on stdout.

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public final class BillJdbcClient {
    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "crud" -> crud(pool(args[1], "master"));
            case "replica" -> replica(pool(args[1], "readonly"));
            case "writes" -> writes(pool(args[1], "master"), Path.of(args[2]), Path.of(args[3]));
            case "load" -> load(pool(args[1], "master", args[5]), Path.of(args[2]), Path.of(args[3]),
                                Integer.parseInt(args[4]));
            case "refuse" -> refuse(args[1], args[2], args.length > 3 ? args[3] : null);
            case "seal" -> out("token", Envelope.seal(Path.of(args[1]), args[2], args[3]));
            case "open" -> open(Path.of(args[1]), args[2], args[3]);
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
        System.exit(0);
    }

    // ---- pools, as Spring Boot binds spring.datasource.<name>.* onto a HikariDataSource ----

    @SuppressWarnings("unchecked")
    static Map<String, Object> datasource(String cfgPath, String name) throws Exception {
        Map<String, Object> doc = (Map<String, Object>) Json.parse(Files.readString(Path.of(cfgPath)));
        return (Map<String, Object>) ((Map<String, Object>) doc.get("datasources")).get(name);
    }

    static String password(Map<String, Object> ds) {
        return SecretFileHikariDataSource.read(Path.of((String) ds.get("passwordFile")));
    }

    /**
     * A HikariDataSource whose password is the mounted Secret's file, read again each time
     * HikariCP opens a physical connection; connections already open are left alone. When the
     * kubelet swaps the Secret volume's ..data link, the next new connection logs in with the
     * new password. No watcher thread, nothing cached.
     * How: HikariCP asks its config (this object) for the password for every new connection
     * and hands it to DataSource.getConnection(user, password). That reaches the server only
     * through a DataSource: with a bare jdbcUrl, HikariCP 2.x's DriverDataSource ignores those
     * arguments and reuses the password it was built with (HikariConfigMXBean.setPassword's
     * javadoc says the same), so setJdbcUrl builds pgjdbc's PGSimpleDataSource from the URL.
     * In Spring Boot: @Bean @ConfigurationProperties("spring.datasource.master") returning
     * new SecretFileHikariDataSource() binds jdbc-url, username, password-file and the pool
     * (docs/java-client.md). Built with the no-argument constructor, so the pool starts on
     * first use, after every property is set.
     */
    static final class SecretFileHikariDataSource extends HikariDataSource {
        private volatile Path passwordFile;

        public void setPasswordFile(String path) { this.passwordFile = Path.of(path); }

        @Override
        public void setJdbcUrl(String url) {
            org.postgresql.ds.PGSimpleDataSource pg = new org.postgresql.ds.PGSimpleDataSource();
            pg.setURL(url);
            setDataSource(pg);
        }

        @Override
        public String getPassword() {
            Path file = passwordFile;
            return file == null ? super.getPassword() : read(file);
        }

        static String read(Path file) {
            try {  // opened anew each time: the path resolves through ..data to the current payload
                String v = Files.readString(file, StandardCharsets.UTF_8);
                return v.endsWith("\n") ? v.substring(0, v.length() - 1) : v;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot read the Secret file " + file, e);
            }
        }
    }

    static HikariDataSource pool(String cfgPath, String name) throws Exception {
        return pool(cfgPath, name, null);
    }

    @SuppressWarnings("unchecked")
    static HikariDataSource pool(String cfgPath, String name, String appName) throws Exception {
        Map<String, Object> ds = datasource(cfgPath, name);
        SecretFileHikariDataSource hc = new SecretFileHikariDataSource();
        hc.setPoolName(name);
        String url = (String) ds.get("jdbcUrl");
        if (appName != null) url = url.replaceAll("ApplicationName=[^&]*", "ApplicationName=" + appName);
        hc.setJdbcUrl(url);
        hc.setUsername((String) ds.get("username"));
        hc.setPasswordFile((String) ds.get("passwordFile"));  // pgjdbc's DataSource: no driver class
        List<String> unsupported = new ArrayList<>();
        for (Map.Entry<String, Object> e : ((Map<String, Object>) ds.get("hikari")).entrySet()) {
            String setter = "set" + Character.toUpperCase(e.getKey().charAt(0)) + e.getKey().substring(1);
            long value = ((Number) e.getValue()).longValue();
            Method m = find(setter);
            if (m == null) { unsupported.add(e.getKey()); continue; }  // e.g. keepaliveTime before HikariCP 4
            if (m.getParameterTypes()[0] == int.class) m.invoke(hc, (int) value); else m.invoke(hc, value);
        }
        System.out.println("{\"pool\":\"" + name + "\",\"hikari_version\":\""
            + HikariConfig.class.getPackage().getImplementationVersion() + "\",\"unsupported\":\""
            + String.join(",", unsupported) + "\"}");
        return hc;
    }

    static Method find(String setter) {
        for (Method m : HikariConfig.class.getMethods())
            if (m.getName().equals(setter) && m.getParameterCount() == 1) return m;
        return null;
    }

    static void out(String key, Object value) {
        System.out.println("{\"" + key + "\":" + Json.quote(String.valueOf(value)) + "}");
    }

    // ---- modes ----

    static void crud(HikariDataSource ds) throws SQLException {
        String key = "jdbc.crud." + System.nanoTime();
        try (Connection c = ds.getConnection()) {
            try (PreparedStatement p = c.prepareStatement(
                    "INSERT INTO system_config (config_key, config_value, description) VALUES (?, ?, ?)")) {
                p.setString(1, key); p.setString(2, "1"); p.setString(3, "pgjdbc CRUD"); p.executeUpdate();
            }
            try (PreparedStatement p = c.prepareStatement(
                    "UPDATE system_config SET config_value = ? WHERE config_key = ?")) {
                p.setString(1, "2"); p.setString(2, key); out("updated", p.executeUpdate());
            }
            try (PreparedStatement p = c.prepareStatement(
                    "SELECT config_value FROM system_config WHERE config_key = ?")) {
                p.setString(1, key);
                try (ResultSet r = p.executeQuery()) { r.next(); out("read", r.getString(1)); }
            }
            try (PreparedStatement p = c.prepareStatement("DELETE FROM system_config WHERE config_key = ?")) {
                p.setString(1, key); out("deleted", p.executeUpdate());
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(
                    "SELECT s.version, pg_is_in_recovery(), current_user FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()")) {
                r.next();
                out("tls", r.getString(1)); out("in_recovery", r.getBoolean(2)); out("user", r.getString(3));
            }
        }
    }

    static void replica(HikariDataSource ds) throws SQLException {
        try (Connection c = ds.getConnection(); Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT pg_is_in_recovery(), inet_server_port(), current_user, "
                 + "(SELECT count(*) FROM system_config)")) {
            r.next();
            out("in_recovery", r.getBoolean(1)); out("port", r.getInt(2)); out("user", r.getString(3));
        }
    }

    /** One commit at a time until the stop file appears; every acknowledged key with the
     * time it was acknowledged and the server that acknowledged it goes to `log`. */
    static void writes(HikariDataSource ds, Path stop, Path log) throws Exception {
        String run = "jdbc.w." + System.currentTimeMillis() + ".";
        StringBuilder acked = new StringBuilder();
        int n = 0, errors = 0;
        String lastError = "";
        while (!Files.exists(stop)) {
            String key = run + n;
            try (Connection c = ds.getConnection(); PreparedStatement p = c.prepareStatement(
                    "INSERT INTO system_config (config_key, config_value) VALUES (?, 'w') RETURNING inet_server_port()")) {
                p.setString(1, key);
                try (ResultSet r = p.executeQuery()) {
                    r.next();
                    acked.append(System.currentTimeMillis()).append(' ').append(r.getInt(1)).append(' ')
                        .append(key).append('\n');
                }
                n++;
            } catch (SQLException e) {
                errors++;
                lastError = e.getSQLState() + " " + e.getMessage();
                n++;  // the key may or may not have committed: never reused
                Thread.sleep(50);
            }
            Thread.sleep(20);
        }
        Files.writeString(log, acked.toString());
        out("errors", errors); out("last_error", lastError);
        ds.close();
    }

    /** `threads` workers commit one upsert at a time (each on its own key) until the stop file
     * appears; once the evict file appears the pool soft-evicts every connection (idle ones
     * close now, busy ones when returned), so the pool opens new ones. Prints operations,
     * errors, and the pool's connection count at the end. */
    static void load(HikariDataSource ds, Path stop, Path evict, int threads) throws Exception {
        java.util.concurrent.atomic.AtomicLong ops = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicLong errors = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<String> lastError = new java.util.concurrent.atomic.AtomicReference<>("");
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String key = "jdbc.rot." + t;
            Thread w = new Thread(() -> {
                while (!Files.exists(stop)) {
                    try (Connection c = ds.getConnection(); PreparedStatement p = c.prepareStatement(
                            "INSERT INTO system_config (config_key, config_value) VALUES (?, 'r') "
                            + "ON CONFLICT (config_key) DO UPDATE SET config_value = excluded.config_value")) {
                        p.setString(1, key);
                        p.executeUpdate();
                        ops.incrementAndGet();
                    } catch (SQLException e) {
                        errors.incrementAndGet();
                        lastError.set(e.getSQLState() + " " + e.getMessage());
                    }
                    try { Thread.sleep(5); } catch (InterruptedException e) { return; }
                }
            });
            w.start();
            workers.add(w);
        }
        boolean evicted = false;
        while (!Files.exists(stop)) {
            if (!evicted && Files.exists(evict)) {
                ds.getHikariPoolMXBean().softEvictConnections();
                evicted = true;
                out("evicted", System.currentTimeMillis());
            }
            Thread.sleep(50);
        }
        for (Thread w : workers) w.join();
        out("ops", ops.get()); out("errors", errors.get()); out("last_error", lastError.get());
        out("total_connections", ds.getHikariPoolMXBean().getTotalConnections());
        ds.close();
    }

    /** A connection that must be refused: mode "nossl" (sslmode=disable) or "wrongca". */
    static void refuse(String cfgPath, String mode, String wrongCa) throws Exception {
        Map<String, Object> ds = datasource(cfgPath, "master");
        String url = (String) ds.get("jdbcUrl");
        if (mode.equals("nossl")) {
            url = url.replace("sslmode=verify-full", "sslmode=disable");
        } else {
            url = url.replaceAll("sslrootcert=[^&]*", "sslrootcert=" + wrongCa);
        }
        Properties props = new Properties();
        props.setProperty("user", (String) ds.get("username"));
        props.setProperty("password", password(ds));
        try (Connection c = DriverManager.getConnection(url, props)) {
            out("refused", false);
        } catch (SQLException e) {
            out("refused", true); out("sqlstate", e.getSQLState()); out("message", e.getMessage());
        }
    }

    static void open(Path keyring, String aad, String token) throws Exception {
        try {
            out("plaintext", Envelope.open(keyring, aad, token));
        } catch (javax.crypto.AEADBadTagException e) {
            out("error", "the value does not open here (damaged, or moved from another row)");
        }
    }

    // ---- the column envelope (docs/envelope.md) ----

    static final class Envelope {
        static final Pattern TOKEN = Pattern.compile("^v1:(k[0-9]+):([A-Za-z0-9_-]{38,})$");

        /** The keyring file holds the secret `column_keyring`: {"active": id, "keys": {id: base64}}. */
        @SuppressWarnings("unchecked")
        static Map<String, Object> ring(Path file) throws Exception {
            return (Map<String, Object>) Json.parse(Files.readString(file));
        }

        static byte[] key(Map<String, Object> ring, String kid) {
            @SuppressWarnings("unchecked")
            Object k = ((Map<String, Object>) ring.get("keys")).get(kid);
            if (k == null) throw new IllegalStateException("the keyring has no key " + kid);
            return Base64.getDecoder().decode((String) k);
        }

        static String seal(Path file, String aad, String plaintext) throws Exception {
            Map<String, Object> ring = ring(file);
            String kid = (String) ring.get("active");
            byte[] nonce = new byte[12];
            new SecureRandom().nextBytes(nonce);
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key(ring, kid), "AES"), new GCMParameterSpec(128, nonce));
            c.updateAAD(aad.getBytes(StandardCharsets.UTF_8));
            byte[] sealed = c.doFinal(plaintext.getBytes(StandardCharsets.UTF_8));  // ciphertext | tag
            byte[] body = new byte[nonce.length + sealed.length];
            System.arraycopy(nonce, 0, body, 0, nonce.length);
            System.arraycopy(sealed, 0, body, nonce.length, sealed.length);
            return "v1:" + kid + ":" + Base64.getUrlEncoder().withoutPadding().encodeToString(body);
        }

        static String open(Path file, String aad, String token) throws Exception {
            Matcher m = TOKEN.matcher(token);
            if (!m.matches()) throw new IllegalArgumentException("not a v1 envelope");
            byte[] body = Base64.getUrlDecoder().decode(m.group(2));
            Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
            c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key(ring(file), m.group(1)), "AES"),
                new GCMParameterSpec(128, body, 0, 12));
            c.updateAAD(aad.getBytes(StandardCharsets.UTF_8));
            return new String(c.doFinal(body, 12, body.length - 12), StandardCharsets.UTF_8);
        }
    }

    // ---- a minimal JSON reader (objects, arrays, strings, numbers, booleans, null) ----

    static final class Json {
        private final String s;
        private int i;

        private Json(String s) { this.s = s; }

        static Object parse(String text) { Json j = new Json(text); Object v = j.value(); return v; }

        static String quote(String v) {
            StringBuilder b = new StringBuilder("\"");
            for (char ch : v.toCharArray()) {
                if (ch == '"' || ch == '\\') b.append('\\').append(ch);
                else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
                else b.append(ch);
            }
            return b.append('"').toString();
        }

        private void ws() { while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++; }

        private Object value() {
            ws();
            char ch = s.charAt(i);
            if (ch == '{') {
                Map<String, Object> m = new LinkedHashMap<>();
                i++; ws();
                if (s.charAt(i) == '}') { i++; return m; }
                while (true) {
                    ws(); String k = string(); ws(); i++;  // ':'
                    m.put(k, value()); ws();
                    if (s.charAt(i++) == '}') return m;
                }
            }
            if (ch == '[') {
                List<Object> l = new ArrayList<>();
                i++; ws();
                if (s.charAt(i) == ']') { i++; return l; }
                while (true) { l.add(value()); ws(); if (s.charAt(i++) == ']') return l; }
            }
            if (ch == '"') return string();
            if (s.startsWith("true", i)) { i += 4; return Boolean.TRUE; }
            if (s.startsWith("false", i)) { i += 5; return Boolean.FALSE; }
            if (s.startsWith("null", i)) { i += 4; return null; }
            int start = i;
            while (i < s.length() && "+-0123456789.eE".indexOf(s.charAt(i)) >= 0) i++;
            String num = s.substring(start, i);
            return num.contains(".") || num.contains("e") ? (Object) Double.parseDouble(num) : (Object) Long.parseLong(num);
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++;  // opening quote
            while (true) {
                char ch = s.charAt(i++);
                if (ch == '"') return b.toString();
                if (ch != '\\') { b.append(ch); continue; }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'b' -> b.append('\b');
                    case 'f' -> b.append('\f');
                    case 'u' -> { b.append((char) Integer.parseInt(s.substring(i, i + 4), 16)); i += 4; }
                    default -> b.append(e);
                }
            }
        }
    }
}
