//! The CA's state in SQLite, with versioned schema migrations. Every change runs
//! in one IMMEDIATE transaction (see `work.rs`).

use rusqlite::Connection;
use std::path::Path;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "
    CREATE TABLE keys (
        key_id TEXT PRIMARY KEY,
        pkcs1 BLOB NOT NULL
    );
    CREATE TABLE cas (
        id INTEGER PRIMARY KEY,
        handle TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('ta', 'rir', 'member')),
        parent_id INTEGER REFERENCES cas(id),
        key_id TEXT NOT NULL,
        resources TEXT NOT NULL,
        cert BLOB NOT NULL,
        cert_uri TEXT NOT NULL,
        next_serial INTEGER NOT NULL DEFAULT 1,
        manifest_number INTEGER NOT NULL DEFAULT 0,
        crl_number INTEGER NOT NULL DEFAULT 0,
        mft_ee_serial INTEGER,
        mft_this_update INTEGER,
        mft_next_update INTEGER,
        opaque_id TEXT UNIQUE,
        created INTEGER NOT NULL
    );
    -- Everything published: ca_id is the publication point holding it (NULL for the TA certificate).
    CREATE TABLE objects (
        uri TEXT PRIMARY KEY,
        ca_id INTEGER REFERENCES cas(id),
        name TEXT NOT NULL,
        der BLOB NOT NULL,
        hash BLOB NOT NULL
    );
    CREATE INDEX objects_ca ON objects(ca_id);
    -- Certificates a CA revoked, kept on its CRL until they expire (CRL-3).
    CREATE TABLE revocations (
        ca_id INTEGER NOT NULL REFERENCES cas(id),
        serial INTEGER NOT NULL,
        revoked_at INTEGER NOT NULL,
        expires INTEGER NOT NULL,
        PRIMARY KEY (ca_id, serial)
    );
    CREATE TABLE roas (
        id INTEGER PRIMARY KEY,
        ca_id INTEGER NOT NULL REFERENCES cas(id),
        asn INTEGER NOT NULL,
        prefix TEXT NOT NULL,
        max_length INTEGER NOT NULL,
        uri TEXT NOT NULL,
        ee_serial INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        UNIQUE (ca_id, asn, prefix, max_length)
    );
    CREATE TABLE aspas (
        ca_id INTEGER NOT NULL REFERENCES cas(id),
        customer INTEGER NOT NULL,
        providers TEXT NOT NULL,
        uri TEXT NOT NULL,
        ee_serial INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        PRIMARY KEY (ca_id, customer)
    );
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        ca_id INTEGER NOT NULL REFERENCES cas(id),
        created INTEGER NOT NULL
    );
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    // 2: one-time keys generated ahead of need, kept across a clean restart.
    "
    CREATE TABLE key_pool (
        id INTEGER PRIMARY KEY,
        pkcs1 BLOB NOT NULL
    );
    ",
    // 3: a ROA object may hold many authorizations (roa_packing.rs): found by its URI.
    "
    CREATE INDEX roas_uri ON roas(uri);
    ",
    // 4: CA keys in a PKCS#11 token: the database knows them by identifier only.
    "
    CREATE TABLE token_keys (
        key_id TEXT PRIMARY KEY,
        token_label TEXT NOT NULL
    );
    ",
    // 5: the history of changes, a hash chain (history.rs).
    "
    CREATE TABLE history (
        seq INTEGER PRIMARY KEY,
        time TEXT NOT NULL,
        actor TEXT NOT NULL,
        member TEXT,
        action TEXT NOT NULL,
        request TEXT NOT NULL,
        published TEXT NOT NULL,
        outcome TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX history_member ON history(member);
    ",
    // 6: staged key rollover (keyroll.rs): a CA's next key while it is pending,
    // keys waiting to be destroyed, each CA's key age, and revocations by issuing key.
    "
    CREATE TABLE keyrolls (
        ca_id INTEGER PRIMARY KEY REFERENCES cas(id),
        key_id TEXT NOT NULL,
        cert BLOB NOT NULL,
        cert_uri TEXT NOT NULL,
        reason TEXT NOT NULL,
        started INTEGER NOT NULL,
        activate_at INTEGER NOT NULL,
        manifest_number INTEGER NOT NULL DEFAULT 0,
        crl_number INTEGER NOT NULL DEFAULT 0,
        mft_ee_serial INTEGER,
        mft_this_update INTEGER,
        mft_next_update INTEGER
    );
    CREATE TABLE retired_keys (
        key_id TEXT PRIMARY KEY,
        ca_handle TEXT NOT NULL,
        retired INTEGER NOT NULL
    );
    ALTER TABLE cas ADD COLUMN key_since INTEGER;
    UPDATE cas SET key_since = created;
    ALTER TABLE revocations ADD COLUMN key_id TEXT;
    ",
    // 7: BGPsec router certificates (router_certs.rs).
    "
    CREATE TABLE router_certs (
        ca_id INTEGER NOT NULL REFERENCES cas(id),
        asn INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        spki BLOB NOT NULL,
        uri TEXT NOT NULL,
        serial INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        PRIMARY KEY (ca_id, asn, key_id)
    );
    ",
    // 8: the offline trust anchor (offline_ta.rs): on the TA's side the
    // certificates it issued to its child and the request nonces it answered;
    // on the online side its requests; a key roll's retiring old key.
    "
    CREATE TABLE ta_children (
        key_id TEXT PRIMARY KEY,
        handle TEXT NOT NULL,
        uri TEXT NOT NULL,
        serial INTEGER NOT NULL,
        not_after INTEGER NOT NULL
    );
    CREATE TABLE ta_nonces (nonce TEXT PRIMARY KEY, answered INTEGER NOT NULL);
    CREATE TABLE ta_exchanges (
        nonce TEXT PRIMARY KEY,
        created INTEGER NOT NULL,
        valid_until INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'answered', 'superseded'))
    );
    ALTER TABLE keyrolls ADD COLUMN phase TEXT NOT NULL DEFAULT 'pending';
    ",
    // 9: a TA key roll (ta_keyroll.rs): the TA instances, old and new.
    "
    CREATE TABLE ta_keyroll (
        old_id INTEGER NOT NULL REFERENCES cas(id),
        new_id INTEGER NOT NULL REFERENCES cas(id),
        started INTEGER NOT NULL,
        activate_at INTEGER NOT NULL,
        phase TEXT NOT NULL CHECK (phase IN ('staging', 'active'))
    );
    ",
    // 10: an offline TA certifies its child under each of its keys during its key roll.
    "
    CREATE TABLE ta_children_by_ta (
        ta_id INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        handle TEXT NOT NULL,
        uri TEXT NOT NULL,
        serial INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        PRIMARY KEY (ta_id, key_id)
    );
    INSERT INTO ta_children_by_ta SELECT (SELECT MIN(id) FROM cas WHERE kind = 'ta'), key_id, handle, uri, serial, not_after FROM ta_children;
    DROP TABLE ta_children;
    ALTER TABLE ta_children_by_ta RENAME TO ta_children;
    ",
    // 11: delegated members (children.rs, up_down.rs): children that run their own
    // CA, the certificates the RIR CA issued them, the messages they sent (replay).
    "
    CREATE TABLE children (
        handle TEXT PRIMARY KEY,
        resources TEXT NOT NULL,
        opaque_id TEXT UNIQUE,
        id_cert BLOB NOT NULL,
        created INTEGER NOT NULL,
        suspended INTEGER NOT NULL DEFAULT 0,
        last_contact INTEGER,
        last_signing_time INTEGER,
        last_message TEXT
    );
    CREATE TABLE child_certs (
        handle TEXT NOT NULL REFERENCES children(handle),
        key_id TEXT NOT NULL UNIQUE,
        uri TEXT NOT NULL,
        serial INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        resources TEXT NOT NULL,
        req_limit TEXT NOT NULL,
        sia_repository TEXT NOT NULL,
        sia_manifest TEXT NOT NULL,
        sia_notify TEXT,
        cert BLOB NOT NULL,
        PRIMARY KEY (handle, key_id)
    );
    CREATE TABLE child_messages (
        handle TEXT NOT NULL,
        digest BLOB NOT NULL,
        signing_time INTEGER NOT NULL,
        PRIMARY KEY (handle, digest)
    );
    ",
    // 12: hosted members moving to a CA of their own (moves.rs).
    "
    CREATE TABLE moves (
        handle TEXT PRIMARY KEY,
        started INTEGER NOT NULL,
        checked INTEGER,
        waiting_for TEXT
    );
    ",
];

/// Open (or create) the database at `path` and bring its schema up to date.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // A deleted row (a destroyed key) is overwritten, not left in a free page.
    conn.pragma_update(None, "secure_delete", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// An in-memory database (tests).
pub fn open_in_memory() -> rusqlite::Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn schema_version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

pub const LATEST_SCHEMA: usize = MIGRATIONS.len();
