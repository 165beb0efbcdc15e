//! Deterministic scenario generator for tests.
