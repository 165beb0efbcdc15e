//! Non-negative integers of at most 20 octets: certificate serials (CERT-2), CRL
//! numbers (CRL-2) and manifest numbers (MFT-3). Compared as big integers, never
//! squeezed into i64.

use crate::der::{self, Integer};
use crate::error::{reject, Result};
use std::cmp::Ordering;
use std::fmt;

/// A big-endian unsigned integer without leading zero octets.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Serial(Vec<u8>);

impl Serial {
    /// From a decoded INTEGER: non-negative, at most 20 content octets.
    pub fn from_integer(i: &Integer<'_>, rule: &'static str) -> Result<Self> {
        if i.is_negative() {
            return reject(rule, "negative number");
        }
        if i.0.len() > 20 {
            return reject(rule, format!("number of {} octets exceeds 20", i.0.len()));
        }
        Ok(Self::from_be_bytes(i.0))
    }

    pub fn from_be_bytes(b: &[u8]) -> Self {
        let skip = b.iter().take_while(|x| **x == 0).count();
        Serial(b[skip..].to_vec())
    }

    pub fn from_u64(v: u64) -> Self {
        Self::from_be_bytes(&v.to_be_bytes())
    }

    pub fn from_u128(v: u128) -> Self {
        Self::from_be_bytes(&v.to_be_bytes())
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    pub fn be_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn encode(&self) -> Vec<u8> {
        der::unsigned(&self.0)
    }

    /// `self + 1`.
    pub fn next(&self) -> Self {
        let mut v = self.0.clone();
        for b in v.iter_mut().rev() {
            if *b == 0xff {
                *b = 0;
            } else {
                *b += 1;
                return Serial(v);
            }
        }
        v.insert(0, 1);
        Serial(v)
    }

    /// Upper-case hex without leading zeros ("0" for zero).
    pub fn hex(&self) -> String {
        if self.0.is_empty() {
            return "0".into();
        }
        let s = crate::hex::upper(&self.0);
        s.trim_start_matches('0').to_string()
    }

    /// Decimal form (arbitrary size).
    pub fn decimal(&self) -> String {
        let mut digits = vec![0u8];
        for byte in &self.0 {
            let mut carry = *byte as u32;
            for d in digits.iter_mut() {
                let v = *d as u32 * 256 + carry;
                *d = (v % 10) as u8;
                carry = v / 10;
            }
            while carry > 0 {
                digits.push((carry % 10) as u8);
                carry /= 10;
            }
        }
        digits.iter().rev().map(|d| (b'0' + d) as char).collect()
    }

    /// The value if it fits 128 bits.
    pub fn to_u128(&self) -> Option<u128> {
        (self.0.len() <= 16).then(|| self.0.iter().fold(0u128, |a, b| (a << 8) | *b as u128))
    }
}

impl Ord for Serial {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Serial {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial(0x{})", self.hex())
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.decimal())
    }
}
