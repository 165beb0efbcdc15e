//! Relying party: fetch, validate, output.
