// pgjdbc (Debian's /usr/share/java/postgresql.jar) against a server named by libpq's environment variables
// (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), with the default connection string
// jdbc:postgresql://host:port/db. Run from source by crates/bgw/tests/drivers.rs (`java -cp postgresql.jar
// Jdbc.java`) against PostgreSQL 15 and against bgw. One line per step, `name: result` or
// `name: ERROR sqlstate message`; with BGW_TARGET=bgw also the `bgw.` steps (bgw_launch with an integer
// parameter, then bgw_workers).

import java.math.BigDecimal;
import java.sql.*;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;

public class Jdbc {
    interface Step {
        Object run() throws Exception;
    }

    static Connection conn;

    static Connection connect() throws SQLException {
        String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
                + System.getenv("PGDATABASE");
        Properties p = new Properties();
        p.setProperty("user", System.getenv("PGUSER"));
        p.setProperty("password", System.getenv("PGPASSWORD"));
        return DriverManager.getConnection(url, p);
    }

    static void step(String name, Step s) throws SQLException {
        try {
            System.out.println(name + ": " + s.run());
        } catch (SQLException e) {
            System.out.println(name + ": ERROR " + e.getSQLState() + " " + e.getMessage().split("\n")[0]);
            try {
                conn.close();
            } catch (SQLException ignored) {
            }
            conn = connect();
        } catch (Exception e) {
            System.out.println(name + ": ERROR client " + e);
            conn = connect();
        }
    }

    /** Rows of a result set: every column as getString, with the column labels and type names. */
    static String rows(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        StringBuilder sb = new StringBuilder("[");
        for (int i = 1; i <= md.getColumnCount(); i++) {
            sb.append(md.getColumnLabel(i)).append(':').append(md.getColumnTypeName(i)).append(i < md.getColumnCount() ? "," : "]");
        }
        while (rs.next()) {
            sb.append(" (");
            for (int i = 1; i <= md.getColumnCount(); i++) {
                sb.append(rs.getString(i)).append(i < md.getColumnCount() ? "|" : ")");
            }
        }
        rs.close();
        return sb.toString();
    }

    /** Selected columns of a metadata result set, one tuple per row. */
    static String meta(ResultSet rs, String... cols) throws SQLException {
        List<String> out = new ArrayList<>();
        while (rs.next()) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < cols.length; i++) {
                sb.append(rs.getString(cols[i])).append(i < cols.length - 1 ? "|" : ")");
            }
            out.add(sb.toString());
        }
        rs.close();
        return String.join(" ", out);
    }

    public static void main(String[] args) throws Exception {
        conn = connect();
        step("connect", () -> rows(conn.createStatement().executeQuery("SELECT 1 AS one")));
        step("types.table", () -> {
            Statement st = conn.createStatement();
            st.execute("DROP TABLE IF EXISTS jdbc_types");
            st.execute("CREATE TABLE jdbc_types (id serial PRIMARY KEY, i2 int2, i4 int4, i8 int8, n numeric(12,3), "
                    + "f float8, b bool, t text, v varchar(20), by bytea, d date, ts timestamp, tz timestamptz, u uuid)");
            return "ok";
        });
        step("prepared.typed", () -> {
            PreparedStatement ps = conn.prepareStatement("INSERT INTO jdbc_types (i2, i4, i8, n, f, b, t, v, by, d, ts, tz, u) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
            // More runs than pgjdbc's prepareThreshold (5): it switches to a named server-side statement.
            int n = 0;
            for (int i = 0; i < 7; i++) {
                ps.setShort(1, (short) (i - 3));
                ps.setInt(2, 100000 + i);
                ps.setLong(3, 9007199254740993L + i);
                ps.setBigDecimal(4, new BigDecimal("1234.5").add(BigDecimal.valueOf(i)));
                ps.setDouble(5, 0.5 * i);
                ps.setBoolean(6, i % 2 == 0);
                ps.setString(7, "row " + i);
                ps.setString(8, "v" + i);
                ps.setBytes(9, new byte[] {0, 1, (byte) i, (byte) 255});
                ps.setObject(10, LocalDate.of(2024, 2, 20 + i));
                ps.setObject(11, LocalDateTime.of(2024, 1, 2, 3, 4, 5, 600000000 + i * 1000));
                ps.setObject(12, OffsetDateTime.of(2024, 1, 2, 3, 4, i, 0, ZoneOffset.UTC));
                ps.setObject(13, UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1" + i));
                n += ps.executeUpdate();
            }
            return n;
        });
        step("prepared.read", () -> {
            PreparedStatement ps = conn.prepareStatement("SELECT * FROM jdbc_types WHERE i4 >= ? AND b = ? ORDER BY id");
            ps.setInt(1, 100002);
            ps.setBoolean(2, true);
            return rows(ps.executeQuery());
        });
        step("prepared.objects", () -> {
            PreparedStatement ps = conn.prepareStatement("SELECT i8, n, d, tz, u FROM jdbc_types WHERE id = ?");
            ps.setInt(1, 1);
            ResultSet rs = ps.executeQuery();
            rs.next();
            String s = rs.getLong(1) + " " + rs.getBigDecimal(2) + " " + rs.getObject(3, LocalDate.class) + " "
                    + rs.getObject(4, OffsetDateTime.class) + " " + rs.getObject(5);
            rs.close();
            return s;
        });
        step("generated_keys", () -> {
            PreparedStatement ps = conn.prepareStatement("INSERT INTO jdbc_types (t) VALUES (?)", Statement.RETURN_GENERATED_KEYS);
            ps.setString(1, "generated");
            ps.executeUpdate();
            ResultSet keys = ps.getGeneratedKeys();
            keys.next();
            String s = "id=" + keys.getInt("id") + " t=" + keys.getString("t");
            keys.close();
            return s;
        });
        step("generated_keys.columns", () -> {
            PreparedStatement ps = conn.prepareStatement("INSERT INTO jdbc_types (t) VALUES (?)", new String[] {"id"});
            ps.setString(1, "generated 2");
            ps.executeUpdate();
            ResultSet keys = ps.getGeneratedKeys();
            return rows(keys);
        });
        step("transaction", () -> {
            conn.setAutoCommit(false);
            conn.createStatement().executeUpdate("INSERT INTO jdbc_types (t) VALUES ('rolled back')");
            conn.rollback();
            conn.setAutoCommit(true);
            return rows(conn.createStatement().executeQuery("SELECT count(*) FROM jdbc_types WHERE t = 'rolled back'"));
        });
        step("metadata.getTables", () -> meta(conn.getMetaData().getTables(null, "public", "jdbc%", new String[] {"TABLE"}),
                "TABLE_SCHEM", "TABLE_NAME", "TABLE_TYPE"));
        step("metadata.getColumns", () -> meta(conn.getMetaData().getColumns(null, "public", "jdbc_types", null),
                "COLUMN_NAME", "DATA_TYPE", "TYPE_NAME", "COLUMN_SIZE", "NULLABLE", "ORDINAL_POSITION"));
        step("metadata.getPrimaryKeys", () -> meta(conn.getMetaData().getPrimaryKeys(null, "public", "jdbc_types"),
                "TABLE_NAME", "COLUMN_NAME", "KEY_SEQ"));
        step("errors", () -> {
            List<String> out = new ArrayList<>();
            for (String sql : new String[] {"SELECT 1/0", "SELECT 'x'::int4", "SELECT * FROM no_such_table"}) {
                try {
                    conn.createStatement().executeQuery(sql);
                    out.add("no error");
                } catch (SQLException e) {
                    out.add(e.getSQLState());
                }
            }
            return out;
        });
        if ("bgw".equals(System.getenv("BGW_TARGET"))) {
            step("bgw.launch", () -> {
                PreparedStatement ps = conn.prepareStatement("SELECT bgw_launch('bgw', 'sleeper', ?)");
                ps.setInt(1, 7);
                ResultSet rs = ps.executeQuery();
                rs.next();
                long pid = rs.getLong(1);
                rs.close();
                PreparedStatement w = conn.prepareStatement("SELECT name, pid FROM bgw_workers WHERE pid = ?");
                w.setInt(1, (int) pid);
                ResultSet r2 = w.executeQuery();
                int n = 0;
                String name = null;
                while (r2.next()) {
                    n++;
                    name = r2.getString(1);
                }
                return "pid>0=" + (pid > 0) + " rows=" + n + " name=" + name;
            });
        }
        conn.close();
        System.out.println("done");
    }
}
