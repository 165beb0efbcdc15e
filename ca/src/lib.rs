//! Hosted certificate authority (issue: hosted CA). Builds on `rpkit-objects`.
