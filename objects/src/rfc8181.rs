//! RFC 8181 publication semantics shared by publishers (the CA) and the
//! publication server: `publish` (new, or replacing the object with a given
//! SHA-256) and `withdraw` (of the object with a given SHA-256).

/// One element of a change set (RFC 8181 §2.2, §2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Publish { uri: String, der: Vec<u8>, replaces: Option<[u8; 32]> },
    Withdraw { uri: String, hash: [u8; 32] },
}

impl Change {
    pub fn uri(&self) -> &str {
        match self {
            Change::Publish { uri, .. } | Change::Withdraw { uri, .. } => uri,
        }
    }
}

/// Everything one change publishes: one RFC 8181 message, one RRDP delta.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeSet {
    pub changes: Vec<Change>,
}

impl ChangeSet {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// RFC 8181 §2.5 error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    XmlError,
    PermissionFailure,
    BadCmsSignature,
    ObjectAlreadyPresent,
    NoObjectPresent,
    NoObjectMatchingHash,
    ConsistencyProblem,
    OtherError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::XmlError => "xml_error",
            ErrorCode::PermissionFailure => "permission_failure",
            ErrorCode::BadCmsSignature => "bad_cms_signature",
            ErrorCode::ObjectAlreadyPresent => "object_already_present",
            ErrorCode::NoObjectPresent => "no_object_present",
            ErrorCode::NoObjectMatchingHash => "no_object_matching_hash",
            ErrorCode::ConsistencyProblem => "consistency_problem",
            ErrorCode::OtherError => "other_error",
        }
    }
}
