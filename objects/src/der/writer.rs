//! A DER writer: values are built bottom-up as byte vectors. Builders use it to
//! emit exactly the canonical encoding the profiles require.

use super::Tag;

/// Encode a TLV.
pub fn tlv(tag: Tag, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag.0);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// A constructed value from already-encoded parts.
pub fn cons(tag: Tag, parts: &[&[u8]]) -> Vec<u8> {
    tlv(tag, &parts.concat())
}

pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    cons(Tag::SEQUENCE, parts)
}

/// A SET OF in DER order (X.690 §11.6).
pub fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(Tag::SET, &parts.concat())
}

/// INTEGER from big-endian unsigned magnitude bytes (leading zeros allowed in input).
pub fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let mut body = Vec::with_capacity(bytes.len() + 1);
    match bytes.get(skip) {
        None => body.push(0),
        Some(b) => {
            if b & 0x80 != 0 {
                body.push(0);
            }
            body.extend_from_slice(&bytes[skip..]);
        }
    }
    tlv(Tag::INTEGER, &body)
}

pub fn integer_u64(v: u64) -> Vec<u8> {
    unsigned(&v.to_be_bytes())
}

pub fn boolean(v: bool) -> Vec<u8> {
    tlv(Tag::BOOLEAN, &[if v { 0xff } else { 0 }])
}

pub fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

pub fn octet_string(v: &[u8]) -> Vec<u8> {
    tlv(Tag::OCTET_STRING, v)
}

/// OBJECT IDENTIFIER from its content octets.
pub fn oid(content: &[u8]) -> Vec<u8> {
    tlv(Tag::OID, content)
}

/// BIT STRING with `unused` padding bits in the last octet (which must be zero).
pub fn bit_string(unused: u8, bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes.len() + 1);
    body.push(unused);
    body.extend_from_slice(bytes);
    tlv(Tag::BIT_STRING, &body)
}

pub fn ia5_string(s: &str) -> Vec<u8> {
    tlv(Tag::IA5_STRING, s.as_bytes())
}

pub fn printable_string(s: &str) -> Vec<u8> {
    tlv(Tag::PRINTABLE_STRING, s.as_bytes())
}
