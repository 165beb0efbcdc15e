//! The CA's tables: the SQLite migrations and the PostgreSQL schema they
//! amount to. A new migration goes in both lists.

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
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

/// PostgreSQL's migrations: the first is SQLite's first twelve in one (the
/// schema they leave), with 64-bit integers, byte strings, and text compared
/// byte by byte as SQLite compares it. A later migration goes in both lists.
pub(super) const POSTGRES: &[&str] = &["
CREATE TABLE keys (
    key_id TEXT COLLATE \"C\" PRIMARY KEY,
    pkcs1 BYTEA NOT NULL
);
CREATE TABLE cas (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    handle TEXT COLLATE \"C\" NOT NULL UNIQUE,
    kind TEXT COLLATE \"C\" NOT NULL CHECK (kind IN ('ta', 'rir', 'member')),
    parent_id BIGINT REFERENCES cas(id),
    key_id TEXT COLLATE \"C\" NOT NULL,
    resources TEXT COLLATE \"C\" NOT NULL,
    cert BYTEA NOT NULL,
    cert_uri TEXT COLLATE \"C\" NOT NULL,
    next_serial BIGINT NOT NULL DEFAULT 1,
    manifest_number BIGINT NOT NULL DEFAULT 0,
    crl_number BIGINT NOT NULL DEFAULT 0,
    mft_ee_serial BIGINT,
    mft_this_update BIGINT,
    mft_next_update BIGINT,
    opaque_id TEXT COLLATE \"C\" UNIQUE,
    created BIGINT NOT NULL
, key_since BIGINT);
CREATE TABLE objects (
    uri TEXT COLLATE \"C\" PRIMARY KEY,
    ca_id BIGINT REFERENCES cas(id),
    name TEXT COLLATE \"C\" NOT NULL,
    der BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX objects_ca ON objects(ca_id);
CREATE TABLE revocations (
    ca_id BIGINT NOT NULL REFERENCES cas(id),
    serial BIGINT NOT NULL,
    revoked_at BIGINT NOT NULL,
    expires BIGINT NOT NULL, key_id TEXT COLLATE \"C\",
    PRIMARY KEY (ca_id, serial)
);
CREATE TABLE roas (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ca_id BIGINT NOT NULL REFERENCES cas(id),
    asn BIGINT NOT NULL,
    prefix TEXT COLLATE \"C\" NOT NULL,
    max_length BIGINT NOT NULL,
    uri TEXT COLLATE \"C\" NOT NULL,
    ee_serial BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    UNIQUE (ca_id, asn, prefix, max_length)
);
CREATE TABLE aspas (
    ca_id BIGINT NOT NULL REFERENCES cas(id),
    customer BIGINT NOT NULL,
    providers TEXT COLLATE \"C\" NOT NULL,
    uri TEXT COLLATE \"C\" NOT NULL,
    ee_serial BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    PRIMARY KEY (ca_id, customer)
);
CREATE TABLE tokens (
    hash TEXT COLLATE \"C\" PRIMARY KEY,
    ca_id BIGINT NOT NULL REFERENCES cas(id),
    created BIGINT NOT NULL
);
CREATE TABLE settings (
    key TEXT COLLATE \"C\" PRIMARY KEY,
    value TEXT COLLATE \"C\" NOT NULL
);
CREATE TABLE key_pool (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    pkcs1 BYTEA NOT NULL
);
CREATE INDEX roas_uri ON roas(uri);
CREATE TABLE token_keys (
    key_id TEXT COLLATE \"C\" PRIMARY KEY,
    token_label TEXT COLLATE \"C\" NOT NULL
);
CREATE TABLE history (
    seq BIGINT PRIMARY KEY,
    time TEXT COLLATE \"C\" NOT NULL,
    actor TEXT COLLATE \"C\" NOT NULL,
    member TEXT COLLATE \"C\",
    action TEXT COLLATE \"C\" NOT NULL,
    request TEXT COLLATE \"C\" NOT NULL,
    published TEXT COLLATE \"C\" NOT NULL,
    outcome TEXT COLLATE \"C\" NOT NULL,
    prev_hash TEXT COLLATE \"C\" NOT NULL,
    hash TEXT COLLATE \"C\" NOT NULL
);
CREATE INDEX history_member ON history(member);
CREATE TABLE keyrolls (
    ca_id BIGINT PRIMARY KEY REFERENCES cas(id),
    key_id TEXT COLLATE \"C\" NOT NULL,
    cert BYTEA NOT NULL,
    cert_uri TEXT COLLATE \"C\" NOT NULL,
    reason TEXT COLLATE \"C\" NOT NULL,
    started BIGINT NOT NULL,
    activate_at BIGINT NOT NULL,
    manifest_number BIGINT NOT NULL DEFAULT 0,
    crl_number BIGINT NOT NULL DEFAULT 0,
    mft_ee_serial BIGINT,
    mft_this_update BIGINT,
    mft_next_update BIGINT
, phase TEXT COLLATE \"C\" NOT NULL DEFAULT 'pending');
CREATE TABLE retired_keys (
    key_id TEXT COLLATE \"C\" PRIMARY KEY,
    ca_handle TEXT COLLATE \"C\" NOT NULL,
    retired BIGINT NOT NULL
);
CREATE TABLE router_certs (
    ca_id BIGINT NOT NULL REFERENCES cas(id),
    asn BIGINT NOT NULL,
    key_id TEXT COLLATE \"C\" NOT NULL,
    spki BYTEA NOT NULL,
    uri TEXT COLLATE \"C\" NOT NULL,
    serial BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    PRIMARY KEY (ca_id, asn, key_id)
);
CREATE TABLE ta_nonces (nonce TEXT COLLATE \"C\" PRIMARY KEY, answered BIGINT NOT NULL);
CREATE TABLE ta_exchanges (
    nonce TEXT COLLATE \"C\" PRIMARY KEY,
    created BIGINT NOT NULL,
    valid_until BIGINT NOT NULL,
    state TEXT COLLATE \"C\" NOT NULL CHECK (state IN ('pending', 'answered', 'superseded'))
);
CREATE TABLE ta_keyroll (
    old_id BIGINT NOT NULL REFERENCES cas(id),
    new_id BIGINT NOT NULL REFERENCES cas(id),
    started BIGINT NOT NULL,
    activate_at BIGINT NOT NULL,
    phase TEXT COLLATE \"C\" NOT NULL CHECK (phase IN ('staging', 'active'))
);
CREATE TABLE ta_children (
    ta_id BIGINT NOT NULL,
    key_id TEXT COLLATE \"C\" NOT NULL,
    handle TEXT COLLATE \"C\" NOT NULL,
    uri TEXT COLLATE \"C\" NOT NULL,
    serial BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    PRIMARY KEY (ta_id, key_id)
);
CREATE TABLE children (
    handle TEXT COLLATE \"C\" PRIMARY KEY,
    resources TEXT COLLATE \"C\" NOT NULL,
    opaque_id TEXT COLLATE \"C\" UNIQUE,
    id_cert BYTEA NOT NULL,
    created BIGINT NOT NULL,
    suspended BIGINT NOT NULL DEFAULT 0,
    last_contact BIGINT,
    last_signing_time BIGINT,
    last_message TEXT COLLATE \"C\"
);
CREATE TABLE child_certs (
    handle TEXT COLLATE \"C\" NOT NULL REFERENCES children(handle),
    key_id TEXT COLLATE \"C\" NOT NULL UNIQUE,
    uri TEXT COLLATE \"C\" NOT NULL,
    serial BIGINT NOT NULL,
    not_after BIGINT NOT NULL,
    resources TEXT COLLATE \"C\" NOT NULL,
    req_limit TEXT COLLATE \"C\" NOT NULL,
    sia_repository TEXT COLLATE \"C\" NOT NULL,
    sia_manifest TEXT COLLATE \"C\" NOT NULL,
    sia_notify TEXT COLLATE \"C\",
    cert BYTEA NOT NULL,
    PRIMARY KEY (handle, key_id)
);
CREATE TABLE child_messages (
    handle TEXT COLLATE \"C\" NOT NULL,
    digest BYTEA NOT NULL,
    signing_time BIGINT NOT NULL,
    PRIMARY KEY (handle, digest)
);
CREATE TABLE moves (
    handle TEXT COLLATE \"C\" PRIMARY KEY,
    started BIGINT NOT NULL,
    checked BIGINT,
    waiting_for TEXT COLLATE \"C\"
);
"];
