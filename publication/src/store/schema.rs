//! The repository's tables: the SQLite migrations and the PostgreSQL schema
//! they amount to. A new migration goes in both lists.

/// SQLite's migrations, in order.
pub(super) const SQLITE: &[&str] = &[
    "
    CREATE TABLE session (id TEXT NOT NULL, serial INTEGER NOT NULL);
    CREATE TABLE objects (
        uri TEXT PRIMARY KEY,
        hash BLOB NOT NULL,
        der BLOB NOT NULL
    );
    -- The delta of every serial: (serial, uri, new object or NULL, hash of the replaced object or NULL).
    CREATE TABLE changes (
        serial INTEGER NOT NULL,
        uri TEXT NOT NULL,
        der BLOB,
        replaces BLOB,
        PRIMARY KEY (serial, uri)
    );
    CREATE TABLE serials (serial INTEGER PRIMARY KEY, created INTEGER NOT NULL);
    -- RRDP files written: kind is 'snapshot' or 'delta'; path relative to the RRDP directory.
    CREATE TABLE files (
        serial INTEGER NOT NULL,
        kind TEXT NOT NULL,
        path TEXT NOT NULL,
        hash BLOB NOT NULL,
        size INTEGER NOT NULL,
        written INTEGER NOT NULL,
        PRIMARY KEY (serial, kind)
    );
",
    "
    -- Each accepted change set is a revision; an RRDP serial covers a run of
    -- revisions (at most one serial per batching interval).
    ALTER TABLE changes RENAME COLUMN serial TO rev;
    ALTER TABLE session ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
    UPDATE session SET rev = serial;
    ALTER TABLE serials ADD COLUMN first_rev INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE serials ADD COLUMN last_rev INTEGER NOT NULL DEFAULT 0;
    UPDATE serials SET first_rev = serial, last_rev = serial;
    -- RFC 8181 publishers: the identity that signs their messages, the base URI they own.
    CREATE TABLE publishers (
        handle TEXT PRIMARY KEY,
        id_cert BLOB NOT NULL,
        base_uri TEXT NOT NULL UNIQUE,
        added INTEGER NOT NULL
    );
    -- The server's own BPKI identity: its key, a message-signing key, the identity certificate.
    CREATE TABLE identity (key BLOB NOT NULL, ee_key BLOB NOT NULL, cert BLOB NOT NULL);
",
    "
    -- The object count, kept so a change costs O(change) (no COUNT(*) scan).
    ALTER TABLE session ADD COLUMN objects INTEGER NOT NULL DEFAULT 0;
    UPDATE session SET objects = (SELECT COUNT(*) FROM objects);
",
    "
    -- The highest fencing token each publisher's CA nodes sent (Rpkit-Fence).
    ALTER TABLE publishers ADD COLUMN fence INTEGER NOT NULL DEFAULT 0;
",
];

/// PostgreSQL's migrations: the first is SQLite's three in one.
pub(super) const POSTGRES: &[&str] = &["
    CREATE TABLE session (id TEXT NOT NULL, serial BIGINT NOT NULL, rev BIGINT NOT NULL DEFAULT 0, objects BIGINT NOT NULL DEFAULT 0);
    CREATE TABLE objects (uri TEXT COLLATE \"C\" PRIMARY KEY, hash BYTEA NOT NULL, der BYTEA NOT NULL);
    CREATE TABLE changes (rev BIGINT NOT NULL, uri TEXT COLLATE \"C\" NOT NULL, der BYTEA, replaces BYTEA, PRIMARY KEY (rev, uri));
    CREATE TABLE serials (serial BIGINT PRIMARY KEY, created BIGINT NOT NULL, first_rev BIGINT NOT NULL DEFAULT 0, last_rev BIGINT NOT NULL DEFAULT 0);
    CREATE TABLE files (
        serial BIGINT NOT NULL, kind TEXT NOT NULL, path TEXT NOT NULL, hash BYTEA NOT NULL,
        size BIGINT NOT NULL, written BIGINT NOT NULL, PRIMARY KEY (serial, kind)
    );
    CREATE TABLE publishers (handle TEXT PRIMARY KEY, id_cert BYTEA NOT NULL, base_uri TEXT COLLATE \"C\" NOT NULL UNIQUE, added BIGINT NOT NULL);
    CREATE TABLE identity (key BYTEA NOT NULL, ee_key BYTEA NOT NULL, cert BYTEA NOT NULL);
", "
    ALTER TABLE publishers ADD COLUMN fence BIGINT NOT NULL DEFAULT 0;
"];
