//! `Repr` serialises with serde (feature `serde`), so applications print one JSON shape.
#![cfg(feature = "serde")]
#![allow(clippy::expect_used)]

use amikit_gdw376::{Frame, Profile, Repr};

/// Login of terminal 0171/2082 (liangminhua/qgdw376.1.ksy packet-sample/login.3761).
const LOGIN: [u8; 20] = [
    0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00, 0x00,
    0x01, 0x00, 0xE0, 0x16,
];

#[test]
fn a_captured_login_serialises_with_its_units_as_hex() {
    let frame = Frame::new_checked(&LOGIN[..], &Profile::default()).expect("frame");
    let repr = Repr::parse(&frame, &Profile::default()).expect("repr");
    let json = serde_json::to_value(repr).expect("json");
    assert_eq!(json["address"]["a1"], 0x0171);
    assert_eq!(json["address"]["a2"], 2082);
    assert_eq!(json["control"], 0xC9);
    assert_eq!(json["afn"], 2);
    assert_eq!(json["seq"], 0x78);
    assert_eq!(json["units"], "00000100");
    assert_eq!(json["pw"], serde_json::Value::Null);
    assert_eq!(json["tp"], serde_json::Value::Null);
}
