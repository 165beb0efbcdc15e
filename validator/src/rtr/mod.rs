//! RPKI-to-Router (RFC 6810 v0, RFC 8210 v1, draft-ietf-sidrops-8210bis v2;
//! CHECKLIST 5): PDUs, the payload set and its differences, the serial
//! history and the server.

pub mod payload;
pub mod pdu;
pub mod server;
pub mod state;
