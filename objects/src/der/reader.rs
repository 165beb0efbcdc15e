//! A strict DER reader (X.690 §10). It accepts only the distinguished encoding:
//! definite, minimal lengths; low tag numbers; minimal INTEGERs; canonical BOOLEANs;
//! BIT STRINGs with zero padding bits. Every method returns a `Result`: hostile
//! bytes produce an error, never a panic (PIT-1).

use super::Tag;
use crate::error::{reject, Error, Result};
use crate::limits::MAX_DER_DEPTH;

/// Rule name used for violations of the encoding itself.
pub const DER: &str = "X.690 §10 (DER)";

/// One decoded TLV: its tag, its content octets and its whole encoding.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    pub tag: Tag,
    pub value: &'a [u8],
    pub raw: &'a [u8],
}

/// A cursor over a sequence of DER TLVs.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
    depth: usize,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, depth: 0 }
    }

    /// Parse exactly one TLV spanning all of `data` (no trailing bytes: PIT-2, CMS-1).
    pub fn single(data: &'a [u8]) -> Result<Tlv<'a>> {
        let mut r = Reader::new(data);
        let tlv = r.any()?;
        r.finish()?;
        Ok(tlv)
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The octets not yet read.
    pub fn rest(&self) -> &'a [u8] {
        self.data
    }

    /// Octets not yet read.
    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    /// Fail unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.data.is_empty() {
            Ok(())
        } else {
            reject(DER, format!("{} unexpected trailing bytes", self.data.len()))
        }
    }

    /// The tag of the next TLV without consuming it.
    pub fn peek_tag(&self) -> Option<Tag> {
        self.data.first().map(|b| Tag(*b))
    }

    /// Read the next TLV, whatever its tag.
    pub fn any(&mut self) -> Result<Tlv<'a>> {
        let data = self.data;
        let first = *data.first().ok_or_else(|| Error::new(DER, "unexpected end of data"))?;
        if first & 0x1f == 0x1f {
            return reject(DER, "high tag numbers are not used in RPKI objects");
        }
        let len_byte = *data.get(1).ok_or_else(|| Error::new(DER, "truncated length"))?;
        let (len, hdr) = if len_byte < 0x80 {
            (len_byte as usize, 2)
        } else if len_byte == 0x80 {
            return reject(DER, "indefinite length (BER) is not allowed");
        } else {
            let n = (len_byte & 0x7f) as usize;
            if n > 4 {
                return reject(DER, "length field longer than 4 octets");
            }
            let bytes = data.get(2..2 + n).ok_or_else(|| Error::new(DER, "truncated length"))?;
            if bytes[0] == 0 {
                return reject(DER, "non-minimal length encoding (leading zero)");
            }
            let len = bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize);
            if len < 0x80 {
                return reject(DER, "long-form length used for a short length");
            }
            (len, 2 + n)
        };
        let end = hdr
            .checked_add(len)
            .filter(|e| *e <= data.len())
            .ok_or_else(|| Error::new(DER, format!("length {len} exceeds the available {} octets", data.len() - hdr)))?;
        self.data = &data[end..];
        Ok(Tlv { tag: Tag(first), value: &data[hdr..end], raw: &data[..end] })
    }

    /// Read the next TLV and require `tag`.
    pub fn expect(&mut self, tag: Tag, what: &str) -> Result<Tlv<'a>> {
        match self.peek_tag() {
            None => reject(DER, format!("{what}: missing")),
            Some(t) if t != tag => reject(DER, format!("{what}: expected {tag}, found {t}")),
            Some(_) => self.any(),
        }
    }

    /// Read the next TLV if it has `tag`.
    pub fn optional(&mut self, tag: Tag) -> Result<Option<Tlv<'a>>> {
        if self.peek_tag() == Some(tag) {
            self.any().map(Some)
        } else {
            Ok(None)
        }
    }

    /// Enter a constructed value with `tag`, returning a reader over its content.
    pub fn nested(&mut self, tag: Tag, what: &str) -> Result<Reader<'a>> {
        let tlv = self.expect(tag, what)?;
        self.child(tlv.value)
    }

    /// A reader over `content` one level deeper than this one.
    pub fn child(&self, content: &'a [u8]) -> Result<Reader<'a>> {
        if self.depth >= MAX_DER_DEPTH {
            return reject(DER, "nesting too deep");
        }
        Ok(Reader { data: content, depth: self.depth + 1 })
    }

    pub fn sequence(&mut self, what: &str) -> Result<Reader<'a>> {
        self.nested(Tag::SEQUENCE, what)
    }

    pub fn integer(&mut self, what: &str) -> Result<Integer<'a>> {
        let tlv = self.expect(Tag::INTEGER, what)?;
        Integer::from_content(tlv.value).map_err(|e| e.context(what))
    }

    pub fn oid(&mut self, what: &str) -> Result<Oid<'a>> {
        let tlv = self.expect(Tag::OID, what)?;
        Oid::from_content(tlv.value).map_err(|e| e.context(what))
    }

    pub fn octet_string(&mut self, what: &str) -> Result<&'a [u8]> {
        Ok(self.expect(Tag::OCTET_STRING, what)?.value)
    }

    pub fn bit_string(&mut self, what: &str) -> Result<BitString<'a>> {
        let tlv = self.expect(Tag::BIT_STRING, what)?;
        BitString::from_content(tlv.value).map_err(|e| e.context(what))
    }

    pub fn boolean(&mut self, what: &str) -> Result<bool> {
        let tlv = self.expect(Tag::BOOLEAN, what)?;
        match tlv.value {
            [0x00] => Ok(false),
            [0xff] => Ok(true),
            _ => reject(DER, format!("{what}: BOOLEAN must be one octet 00 or FF")),
        }
    }

    pub fn null(&mut self, what: &str) -> Result<()> {
        let tlv = self.expect(Tag::NULL, what)?;
        if tlv.value.is_empty() {
            Ok(())
        } else {
            reject(DER, format!("{what}: NULL with content"))
        }
    }
}

/// A DER INTEGER's content octets, checked for minimal encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Integer<'a>(pub &'a [u8]);

impl<'a> Integer<'a> {
    pub fn from_content(v: &'a [u8]) -> Result<Self> {
        match v {
            [] => reject(DER, "empty INTEGER"),
            [0x00, b, ..] if *b < 0x80 => reject(DER, "non-minimal INTEGER (leading 00)"),
            [0xff, b, ..] if *b >= 0x80 => reject(DER, "non-minimal INTEGER (leading FF)"),
            _ => Ok(Integer(v)),
        }
    }

    pub fn is_negative(&self) -> bool {
        self.0[0] & 0x80 != 0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0]
    }

    /// The magnitude of a non-negative integer without the sign octet.
    pub fn unsigned_bytes(&self) -> Result<&'a [u8]> {
        if self.is_negative() {
            return reject(DER, "negative INTEGER where a non-negative one is required");
        }
        Ok(if self.0.len() > 1 && self.0[0] == 0 { &self.0[1..] } else { self.0 })
    }

    pub fn to_u64(&self) -> Result<u64> {
        let b = self.unsigned_bytes()?;
        if b.len() > 8 {
            return reject(DER, "INTEGER too large");
        }
        Ok(b.iter().fold(0u64, |acc, x| (acc << 8) | *x as u64))
    }

    pub fn to_u32(&self) -> Result<u32> {
        u32::try_from(self.to_u64()?).map_err(|_| Error::new(DER, "INTEGER does not fit 32 bits"))
    }

    pub fn to_i64(&self) -> Result<i64> {
        if self.0.len() > 8 {
            return reject(DER, "INTEGER too large");
        }
        let init: i64 = if self.is_negative() { -1 } else { 0 };
        Ok(self.0.iter().fold(init, |acc, x| (acc << 8) | *x as i64))
    }
}

/// An OBJECT IDENTIFIER's content octets, checked for valid base-128 arcs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Oid<'a>(pub &'a [u8]);

impl<'a> Oid<'a> {
    pub fn from_content(v: &'a [u8]) -> Result<Self> {
        if v.is_empty() {
            return reject(DER, "empty OBJECT IDENTIFIER");
        }
        if v.last().is_some_and(|b| b & 0x80 != 0) {
            return reject(DER, "truncated OBJECT IDENTIFIER arc");
        }
        let mut start = true;
        for b in v {
            if start && *b == 0x80 {
                return reject(DER, "non-minimal OBJECT IDENTIFIER arc");
            }
            start = b & 0x80 == 0;
        }
        Ok(Oid(v))
    }
}

impl std::fmt::Display for Oid<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut arcs = Vec::new();
        let mut acc: u128 = 0;
        for b in self.0 {
            acc = (acc << 7) | (b & 0x7f) as u128;
            if b & 0x80 == 0 {
                arcs.push(acc);
                acc = 0;
            }
        }
        let Some(first) = arcs.first().copied() else { return Ok(()) };
        let (a, b) = if first < 40 {
            (0, first)
        } else if first < 80 {
            (1, first - 40)
        } else {
            (2, first - 80)
        };
        write!(f, "{a}.{b}")?;
        for arc in &arcs[1..] {
            write!(f, ".{arc}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Oid<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// A BIT STRING: unused-bit count and octets, with zero padding bits (X.690 §11.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BitString<'a> {
    pub unused: u8,
    pub bytes: &'a [u8],
}

impl<'a> BitString<'a> {
    pub fn from_content(v: &'a [u8]) -> Result<Self> {
        let (&unused, bytes) = v.split_first().ok_or_else(|| Error::new(DER, "empty BIT STRING"))?;
        if unused > 7 {
            return reject(DER, "BIT STRING unused-bit count above 7");
        }
        if bytes.is_empty() && unused != 0 {
            return reject(DER, "empty BIT STRING with unused bits");
        }
        if let Some(last) = bytes.last() {
            if last & ((1u16 << unused) - 1) as u8 != 0 {
                return reject(DER, "BIT STRING padding bits are not zero");
            }
        }
        Ok(BitString { unused, bytes })
    }

    /// Number of significant bits.
    pub fn bit_len(&self) -> usize {
        self.bytes.len() * 8 - self.unused as usize
    }

    /// The octets of a BIT STRING that must hold whole octets.
    pub fn octets(&self, what: &str) -> Result<&'a [u8]> {
        if self.unused != 0 {
            return reject(DER, format!("{what}: BIT STRING must hold whole octets"));
        }
        Ok(self.bytes)
    }
}
