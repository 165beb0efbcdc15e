//! RTR PDUs against the test vectors of CHECKLIST 5.2 (RTR-T), byte for byte,
//! and the decoder's refusals (RTR-1, RTR-2, RTR-8, RTR-10, RTR-16).

use rpkit_validator::rtr::pdu::{ErrorCode, Header, Pdu, Timers};

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace().map(|b| u8::from_str_radix(b, 16).unwrap()).collect()
}

#[test]
fn rtr_t_every_vector_encodes_and_decodes_byte_exact() {
    let t = Timers { refresh: 3600, retry: 600, expire: 7200 };
    let vectors = [
        (Pdu::ResetQuery { version: 1 }, "01 02 00 00 00 00 00 08"),
        (Pdu::SerialQuery { version: 2, session: 0x1234, serial: 42 }, "02 01 12 34 00 00 00 0c 00 00 00 2a"),
        (Pdu::CacheResponse { version: 1, session: 0x1234 }, "01 03 12 34 00 00 00 08"),
        (
            Pdu::Ipv4Prefix { version: 1, announce: true, prefix_len: 24, max_len: 24, addr: 0xc0000200, asn: 64496 },
            "01 04 00 00 00 00 00 14 01 18 18 00 c0 00 02 00 00 00 fb f0",
        ),
        (
            Pdu::Ipv6Prefix { version: 1, announce: true, prefix_len: 32, max_len: 48, addr: 0x20010db8 << 96, asn: 64497 },
            "01 06 00 00 00 00 00 20 01 20 30 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 00 00 00 fb f1",
        ),
        (Pdu::EndOfData { version: 0, session: 0x1234, serial: 42, timers: None }, "00 07 12 34 00 00 00 0c 00 00 00 2a"),
        (
            Pdu::EndOfData { version: 1, session: 0x1234, serial: 42, timers: Some(t) },
            "01 07 12 34 00 00 00 18 00 00 00 2a 00 00 0e 10 00 00 02 58 00 00 1c 20",
        ),
        (Pdu::CacheReset { version: 1 }, "01 08 00 00 00 00 00 08"),
        (Pdu::ErrorReport { version: 2, code: 4, pdu: vec![], text: String::new() }, "02 0a 00 04 00 00 00 10 00 00 00 00 00 00 00 00"),
        (
            Pdu::Aspa { version: 2, announce: true, customer: 64496, providers: vec![64500, 64501] },
            "02 0b 01 00 00 00 00 14 00 00 fb f0 00 00 fb f4 00 00 fb f5",
        ),
        (Pdu::Aspa { version: 2, announce: false, customer: 64496, providers: vec![] }, "02 0b 00 00 00 00 00 0c 00 00 fb f0"),
        (Pdu::SerialNotify { version: 0, session: 7, serial: 0xffff_ffff }, "00 00 00 07 00 00 00 0c ff ff ff ff"),
    ];
    for (pdu, bytes) in vectors {
        assert_eq!(pdu.to_bytes(), hex(bytes), "{pdu:?}");
        assert_eq!(Pdu::decode(&hex(bytes)).unwrap(), pdu, "{bytes}");
    }
}

#[test]
fn rtr_9_router_key_and_rtr_16_error_report_round_trip() {
    let spki = vec![0x30; 91];
    let k = Pdu::RouterKey { version: 1, announce: true, ski: [0xab; 20], asn: 65000, spki };
    let b = k.to_bytes();
    assert_eq!(b.len(), 123, "a P-256 key's PDU is 123 octets");
    assert_eq!(&b[..8], &hex("01 09 01 00 00 00 00 7b")[..]);
    assert_eq!(Pdu::decode(&b).unwrap(), k);
    // A router key in a v0 PDU is an unknown type there.
    let mut v0 = b.clone();
    v0[0] = 0;
    assert_eq!(Pdu::decode(&v0).unwrap_err().code, ErrorCode::UnsupportedPduType);

    let e = Pdu::ErrorReport { version: 1, code: 5, pdu: hex("01 2a 00 00 00 00 00 08"), text: "unknown type 42".into() };
    let b = e.to_bytes();
    assert_eq!(b.len(), 16 + 8 + 15);
    assert_eq!(Pdu::decode(&b).unwrap(), e);
}

#[test]
fn rtr_1_reserved_bits_are_ignored_on_receipt() {
    // Reset Query with a non-zero "zero" field; IPv4 prefix with reserved flag bits and octet 11.
    assert_eq!(Pdu::decode(&hex("01 02 ff ff 00 00 00 08")).unwrap(), Pdu::ResetQuery { version: 1 });
    let p = Pdu::decode(&hex("01 04 00 00 00 00 00 14 fe 18 18 ff c0 00 02 00 00 00 fb f0")).unwrap();
    assert!(matches!(p, Pdu::Ipv4Prefix { announce: false, prefix_len: 24, .. }), "{p:?}");
}

#[test]
fn rtr_2_lengths_are_checked_against_the_type_before_the_body() {
    let corrupt = |h: &str| {
        let b: [u8; 8] = hex(h).try_into().unwrap();
        Header::parse(&b).check().unwrap_err().code
    };
    assert_eq!(corrupt("01 02 00 00 00 00 00 09"), ErrorCode::CorruptData, "Reset Query of 9");
    assert_eq!(corrupt("01 02 00 00 00 00 00 07"), ErrorCode::CorruptData, "length 7");
    assert_eq!(corrupt("01 04 00 00 ff ff ff ff"), ErrorCode::CorruptData, "4 GiB");
    assert_eq!(corrupt("01 0a 00 00 00 00 00 0f"), ErrorCode::CorruptData, "Error Report under 16");
    assert_eq!(corrupt("02 0b 00 00 00 00 00 0e"), ErrorCode::CorruptData, "ASPA not a multiple of 4");
    assert_eq!(corrupt("01 2a 00 00 00 00 00 08"), ErrorCode::UnsupportedPduType, "type 42");
    assert_eq!(corrupt("01 0b 00 00 00 00 00 0c"), ErrorCode::UnsupportedPduType, "ASPA in v1");
    assert_eq!(Pdu::decode(&hex("03 02 00 00 00 00 00 08")).unwrap_err().code, ErrorCode::UnsupportedVersion);
    // The whole PDU must be exactly its length.
    assert_eq!(Pdu::decode(&hex("01 02 00 00 00 00 00 08 00")).unwrap_err().code, ErrorCode::CorruptData);
    // Error Report whose inner lengths overrun.
    assert_eq!(Pdu::decode(&hex("01 0a 00 00 00 00 00 10 00 00 00 09 00 00 00 00")).unwrap_err().code, ErrorCode::CorruptData);
}

#[test]
fn rtr_8_pit_28_host_bits_and_max_length_are_refused() {
    // 192.0.2.1/24, maxLength 16 < 24, maxLength 33.
    for h in [
        "01 04 00 00 00 00 00 14 01 18 18 00 c0 00 02 01 00 00 fb f0",
        "01 04 00 00 00 00 00 14 01 18 10 00 c0 00 02 00 00 00 fb f0",
        "01 04 00 00 00 00 00 14 01 18 21 00 c0 00 02 00 00 00 fb f0",
        "01 06 00 00 00 00 00 20 01 20 30 00 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 00 00 fb f1",
    ] {
        assert_eq!(Pdu::decode(&hex(h)).unwrap_err().code, ErrorCode::CorruptData, "{h}");
    }
    // /0 and /32 decode.
    Pdu::decode(&hex("01 04 00 00 00 00 00 14 01 00 20 00 00 00 00 00 00 00 00 01")).unwrap();
    Pdu::decode(&hex("01 04 00 00 00 00 00 14 01 20 20 00 c0 00 02 01 00 00 00 01")).unwrap();
}

#[test]
fn rtr_10_aspa_provider_lists_are_checked() {
    for h in [
        "02 0b 01 00 00 00 00 0c 00 00 fb f0",                         // announce without providers
        "02 0b 01 00 00 00 00 14 00 00 fb f0 00 00 fb f5 00 00 fb f4", // descending
        "02 0b 01 00 00 00 00 14 00 00 fb f0 00 00 fb f4 00 00 fb f4", // repeated
        "02 0b 01 00 00 00 00 14 00 00 fb f0 00 00 00 00 00 00 fb f4", // AS0 among others
        "02 0b 00 00 00 00 00 10 00 00 fb f0 00 00 fb f4",             // withdrawal with a list
    ] {
        assert_eq!(Pdu::decode(&hex(h)).unwrap_err().code, ErrorCode::AspaProviderListError, "{h}");
    }
}

#[test]
fn rtr_12_timers_are_checked() {
    assert!(Timers::default().check().is_ok());
    assert_eq!(Timers::default(), Timers { refresh: 3600, retry: 600, expire: 7200 });
    for t in [
        Timers { refresh: 3600, retry: 600, expire: 3600 },
        Timers { refresh: 0, retry: 600, expire: 7200 },
        Timers { refresh: 3600, retry: 7201, expire: 8000 },
        Timers { refresh: 60, retry: 30, expire: 599 },
    ] {
        assert!(t.check().is_err(), "{t:?}");
    }
}

#[test]
fn rtr_17_codes_per_version() {
    assert!(!ErrorCode::UnexpectedVersion.defined_in(0));
    assert!(ErrorCode::UnexpectedVersion.defined_in(1));
    assert!(!ErrorCode::AspaProviderListError.defined_in(1));
    assert!(ErrorCode::CacheShutdown.defined_in(2));
    assert!(ErrorCode::UnsupportedVersion.is_fatal(1));
    assert!(!ErrorCode::UnsupportedVersion.is_fatal(2));
    assert!(!ErrorCode::NoDataAvailable.is_fatal(0));
    assert_eq!(ErrorCode::from_u16(13), Some(ErrorCode::CacheShutdown));
    assert_eq!(ErrorCode::from_u16(14), None);
}
