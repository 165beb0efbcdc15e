//! Hex forms for key identifiers, serials and hashes.

pub fn upper(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02X}")).collect()
}

pub fn lower(v: &[u8]) -> String {
    v.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse hex (either case, no separators).
pub fn decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}
