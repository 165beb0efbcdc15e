//! An RTR byte stream (RFC 8210, draft-ietf-sidrops-8210bis) cut into PDUs as
//! the server and client do: header first (RTR-2), then the body. Every PDU
//! that decodes must encode back to the same bytes, apart from reserved fields.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rpkit_validator::rtr::pdu::{Header, Pdu, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Some(hdr) = rest.first_chunk::<HEADER_LEN>() {
        let h = Header::parse(hdr);
        if h.check().is_err() {
            break;
        }
        let Some(one) = rest.get(..h.length as usize) else { break };
        rest = &rest[h.length as usize..];
        if let Ok(pdu) = Pdu::decode(one) {
            let again = Pdu::decode(&pdu.to_bytes()).expect("an encoded PDU decodes");
            assert_eq!(again, pdu);
        }
    }
});
