//! Why an `rpkit` command failed: printed once on stderr, exit status 1.
//! A fault of our own disk or network, a refusal by a server, and input the
//! user gave are different variants, so each is said in its own words.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An argument, a setting or an input file's content is wrong.
    #[error("{0}")]
    Input(String),
    /// A local file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A listening address could not be bound.
    #[error("{what}: {source}")]
    Listen { what: String, source: std::io::Error },
    /// A JSON or TOML file (ours or the user's) does not parse.
    #[error("{}: {detail}", path.display())]
    Parse { path: PathBuf, detail: String },
    /// A SQLite database that does not open or copy.
    #[error("{}: {source}", path.display())]
    Database { path: PathBuf, source: rusqlite::Error },
    /// A shared (PostgreSQL) database that does not answer or copy.
    #[error("{0}")]
    SharedDatabase(#[from] rpkit_serve::db::DbError),
    /// An RPKI object, TAL or RFC 8183 document that does not decode.
    #[error("{what}: {source}")]
    Object { what: String, source: rpkit_objects::Error },
    /// The CA's REST API refused the request or could not be reached.
    #[error(transparent)]
    Api(#[from] crate::client::ClientError),
    /// The CA refused or failed (commands that open its database).
    #[error(transparent)]
    Ca(#[from] rpkit_ca::CaError),
    /// The CA's publisher identity (RFC 8183) could not be loaded or made.
    #[error(transparent)]
    Identity(#[from] rpkit_ca::rfc8181_client::IdentityError),
    /// The CA could not reach or was refused by its publication server.
    #[error(transparent)]
    Publish(#[from] rpkit_ca::publisher::PublishError),
    /// The publication server refused or failed.
    #[error(transparent)]
    Publication(#[from] rpkit_publication::repository::RepoError),
    /// A validation run could not start or complete.
    #[error(transparent)]
    Validator(#[from] rpkit_validator::error::RunError),
    /// A SLURM file (RFC 8416) that is unreadable or wrong.
    #[error(transparent)]
    Slurm(#[from] rpkit_validator::error::SlurmError),
    /// A data directory whose modes open a secret to other users.
    #[error(transparent)]
    Permissions(#[from] rpkit_serve::data_dir::Error),
    /// A TLS certificate or key that does not load.
    #[error(transparent)]
    Tls(#[from] rpkit_serve::tls::TlsError),
    /// A server answered that it did not do what was asked.
    #[error("{0}")]
    Refused(String),
    /// A step of a larger job failed: which step, and why.
    #[error("{what}: {source}")]
    Step { what: String, source: Box<CliError> },
    /// Something the program itself got wrong (a task that panicked, a value
    /// that cannot be encoded): a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl CliError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        CliError::Io { path: path.to_path_buf(), source }
    }

    /// For `map_err` on binding (or asking the address of) listener `what`.
    pub fn listen(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CliError {
        let what = what.into();
        move |source| CliError::Listen { what, source }
    }

    pub fn parse(path: &Path, detail: impl std::fmt::Display) -> Self {
        CliError::Parse { path: path.to_path_buf(), detail: detail.to_string() }
    }

    pub fn input(message: impl Into<String>) -> Self {
        CliError::Input(message.into())
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        CliError::Internal(e.to_string())
    }

    /// This error as the failure of step `what`.
    pub fn during(self, what: impl Into<String>) -> Self {
        CliError::Step { what: what.into(), source: Box::new(self) }
    }
}

/// `map_err` shorthands.
pub trait Context<T> {
    /// The error as the failure of step `what`.
    fn during(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<CliError>> Context<T> for std::result::Result<T, E> {
    fn during(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| e.into().during(what()))
    }
}
