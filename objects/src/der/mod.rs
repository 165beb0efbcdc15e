//! Distinguished Encoding Rules: a strict reader and a writer, the base of every
//! object codec in this crate.

mod reader;
mod time;
mod writer;

pub use reader::{BitString, Integer, Oid, Reader, Tlv, DER};
pub use time::Time;
pub use writer::*;

/// An identifier octet (low tag numbers only).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tag(pub u8);

impl Tag {
    pub const BOOLEAN: Tag = Tag(0x01);
    pub const INTEGER: Tag = Tag(0x02);
    pub const BIT_STRING: Tag = Tag(0x03);
    pub const OCTET_STRING: Tag = Tag(0x04);
    pub const NULL: Tag = Tag(0x05);
    pub const OID: Tag = Tag(0x06);
    pub const UTF8_STRING: Tag = Tag(0x0c);
    pub const PRINTABLE_STRING: Tag = Tag(0x13);
    pub const IA5_STRING: Tag = Tag(0x16);
    pub const UTC_TIME: Tag = Tag(0x17);
    pub const GENERALIZED_TIME: Tag = Tag(0x18);
    pub const SEQUENCE: Tag = Tag(0x30);
    pub const SET: Tag = Tag(0x31);

    /// `[n]` context-specific, constructed (EXPLICIT tagging or constructed IMPLICIT).
    pub const fn ctx_cons(n: u8) -> Tag {
        Tag(0xa0 | n)
    }

    /// `[n]` context-specific, primitive (IMPLICIT tagging of a primitive type).
    pub const fn ctx_prim(n: u8) -> Tag {
        Tag(0x80 | n)
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match *self {
            Tag::BOOLEAN => "BOOLEAN",
            Tag::INTEGER => "INTEGER",
            Tag::BIT_STRING => "BIT STRING",
            Tag::OCTET_STRING => "OCTET STRING",
            Tag::NULL => "NULL",
            Tag::OID => "OBJECT IDENTIFIER",
            Tag::UTF8_STRING => "UTF8String",
            Tag::PRINTABLE_STRING => "PrintableString",
            Tag::IA5_STRING => "IA5String",
            Tag::UTC_TIME => "UTCTime",
            Tag::GENERALIZED_TIME => "GeneralizedTime",
            Tag::SEQUENCE => "SEQUENCE",
            Tag::SET => "SET",
            Tag(t) if t & 0xc0 == 0x80 => return write!(f, "[{}]", t & 0x1f),
            Tag(t) => return write!(f, "tag 0x{t:02x}"),
        };
        f.write_str(name)
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// DER order of SET OF elements: by their encodings as octet strings (X.690 §11.6).
pub fn set_of_sorted(elements: &[&[u8]]) -> bool {
    elements.windows(2).all(|w| w[0] <= w[1])
}
