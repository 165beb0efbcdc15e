//! The database seam on both backends: the same queries, the same values back,
//! writes that roll back on error, and one snapshot per pinned read.

use rpkit_serve::args;
use rpkit_serve::db::{Db, DbError, Location, Mode, Schema, Sql, Value};

const SCHEMA: Schema = Schema {
    name: "seam-test",
    sqlite: &["CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, data BLOB, n INTEGER);"],
    postgres: &["CREATE TABLE t (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE, data BYTEA, n BIGINT);"],
    secure_delete: false,
};

fn exercise(mut db: Db) {
    let id: i64 = db
        .with(Mode::Write, |tx| tx.value("INSERT INTO t (name, data, n) VALUES (?1, ?2, ?3) RETURNING id", args!["a", vec![1u8, 2], 7i64]))
        .unwrap();
    assert!(id > 0);
    db.execute("INSERT INTO t (name, data, n) VALUES (?1, ?2, ?3)", args!["b", None::<Vec<u8>>, -1i64]).unwrap();
    // An upsert both speak.
    db.execute("INSERT INTO t (name, n) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET n = excluded.n", args!["b", 5i64]).unwrap();
    let rows = db.query("SELECT name, data, n FROM t ORDER BY name", args![]).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].0, vec![Value::Text("a".into()), Value::Blob(vec![1, 2]), Value::Int(7)]);
    assert_eq!(rows[1].0, vec![Value::Text("b".into()), Value::Null, Value::Int(5)]);
    assert!(db.value::<bool>("SELECT EXISTS (SELECT 1 FROM t WHERE n = ?1)", args![5i64]).unwrap());
    assert_eq!(db.value_opt::<i64>("SELECT n FROM t WHERE name = ?1", args!["zz"]).unwrap(), None);
    // A wrong type names the column.
    let e = db.value::<String>("SELECT n FROM t WHERE name = ?1", args!["a"]).unwrap_err();
    assert_eq!(e.to_string(), "column 0: expected text, found integer");
    // A failed write leaves nothing behind.
    let r: Result<(), DbError> = db.with(Mode::Write, |tx| {
        tx.execute("UPDATE t SET n = 100 WHERE name = ?1", args!["a"])?;
        tx.execute("INSERT INTO t (name) VALUES (?1)", args!["a"])?;
        Ok(())
    });
    assert!(r.unwrap_err().is_constraint());
    assert_eq!(db.value::<i64>("SELECT n FROM t WHERE name = ?1", args!["a"]).unwrap(), 7);
    // Rows streamed one at a time.
    let mut names = Vec::new();
    db.for_each("SELECT name FROM t ORDER BY name", args![], |r| {
        names.push(r.get::<String>(0)?);
        Ok::<(), DbError>(())
    })
    .unwrap();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(db.schema_version(&SCHEMA).unwrap(), 1);
}

#[test]
fn sqlite_backend_reads_back_what_it_wrote() {
    exercise(Db::open(&Location::Sqlite(None), &SCHEMA).unwrap());
}

#[test]
fn postgresql_backend_reads_back_what_it_wrote() {
    let Some(url) = rpkit_test_vectors::postgres::database("seam_test") else { return };
    exercise(Db::open(&Location::Postgres(url.clone()), &SCHEMA).unwrap());
    // Opened again: the schema is not applied twice.
    let db = Db::open(&Location::Postgres(url), &SCHEMA).unwrap();
    assert_eq!(db.value::<i64>("SELECT COUNT(*) FROM t", args![]).unwrap(), 2);
}

/// HA (issue: two nodes, one active): one node holds the lease; the other
/// takes it once it expires, with a higher fencing token; the old holder can
/// no longer commit a write and learns it lost the lease.
#[test]
fn postgresql_lease_one_active_node_and_a_fenced_old_holder() {
    use rpkit_serve::db::lease::Step;
    use rpkit_serve::db::Lease;
    let Some(url) = rpkit_test_vectors::postgres::database("lease_test") else { return };
    let mut a = Lease::open(&url, &SCHEMA, "node-a").unwrap();
    let mut b = Lease::open(&url, &SCHEMA, "node-b").unwrap();
    assert_eq!(a.step(), Step::Acquired);
    assert_eq!(b.step(), Step::Standby);
    assert_eq!(b.fence().holder(), "node-a");
    let token_a = a.fence().token().expect("a is active");
    assert_eq!(a.step(), Step::Renewed);
    assert_eq!(b.step(), Step::Standby, "a renewed lease is not taken");

    let mut db_a = Db::open(&Location::Postgres(url.clone()), &SCHEMA).unwrap();
    db_a.set_fence(a.fence());
    db_a.with(Mode::Write, |tx| tx.execute("INSERT INTO t (name) VALUES (?1)", args!["by-a"])).unwrap();

    // a stops renewing (paused): once the lease expires, b takes it.
    let admin = Db::open(&Location::Postgres(url.clone()), &SCHEMA).unwrap();
    admin.execute("UPDATE rpkit_lease SET expires = now() - interval '1 second' WHERE store = ?1", args![SCHEMA.name]).unwrap();
    assert_eq!(b.step(), Step::Acquired);
    let token_b = b.fence().token().expect("b is active");
    assert!(token_b > token_a, "{token_b} > {token_a}");

    // a, still believing it is active, writes: refused at commit, nothing kept.
    let e = db_a.with(Mode::Write, |tx| tx.execute("INSERT INTO t (name) VALUES (?1)", args!["late-a"])).unwrap_err();
    assert!(matches!(e, DbError::Fenced(_)), "{e}");
    assert!(e.to_string().contains("node-a no longer holds the seam-test lease"), "{e}");
    let names: Vec<String> = admin.rows("SELECT name FROM t ORDER BY name", args![], |r| r.get(0)).unwrap();
    assert_eq!(names, ["by-a"]);
    // Reads go on; the next step tells a it lost the lease.
    assert_eq!(db_a.value::<i64>("SELECT count(*) FROM t", args![]).unwrap(), 1);
    assert_eq!(a.step(), Step::Lost);
    assert!(!a.fence().is_active());
    assert_eq!(a.fence().holder(), "node-b");

    // b stops cleanly: it gives the lease up and a takes it at once.
    b.release();
    assert_eq!(a.step(), Step::Acquired);
    assert!(a.fence().token().unwrap() > token_b);
    db_a.with(Mode::Write, |tx| tx.execute("INSERT INTO t (name) VALUES (?1)", args!["a-again"])).unwrap();
}

/// TLS to PostgreSQL with libpq's sslmode: verify-full reaches the test
/// server (whose role `tlsonly` takes TLS only) and the session is
/// encrypted; an anchor that did not issue the server's certificate, and a
/// connection without TLS for that role, are refused, each saying why.
#[test]
fn postgresql_over_tls_verifies_the_server_and_refuses_otherwise() {
    let Some(url) = rpkit_test_vectors::postgres::database("seam_tls") else { return };
    let root = rpkit_test_vectors::postgres::tls_root().expect("the test server's CA");
    let tls_only = url.replacen("postgresql://postgres@", "postgresql://tlsonly@", 1);
    let open = |q: &str| Db::open(&Location::from_url(Some(&format!("{tls_only}?{q}")), None), &SCHEMA);
    let db = open(&format!("sslmode=verify-full&sslrootcert={}", root.display())).unwrap();
    assert!(db.value::<bool>("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", args![]).unwrap());
    exercise(db);

    let other = std::env::temp_dir().join(format!("rpkit-other-ca-{}", std::process::id()));
    std::fs::create_dir_all(&other).unwrap();
    let st = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=another CA", "-keyout"])
        .arg(other.join("key.pem"))
        .arg("-out")
        .arg(other.join("ca.pem"))
        .output()
        .unwrap();
    assert!(st.status.success());
    let e = open(&format!("sslmode=verify-ca&sslrootcert={}", other.join("ca.pem").display())).err().expect("another CA is refused");
    assert!(e.to_string().contains("certificate verify failed"), "{e}");
    // Encrypted without a check of the certificate, as libpq's require.
    assert!(open("sslmode=require").is_ok());
    let e = open("sslmode=disable").err().expect("no TLS for tlsonly");
    assert!(e.to_string().contains("no encryption") || e.to_string().contains("pg_hba"), "{e}");
    let _ = std::fs::remove_dir_all(&other);
}
