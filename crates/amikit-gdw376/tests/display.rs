//! `Repr`'s `Display` is one line that a console or a log can print for any frame.
#![allow(clippy::expect_used)]

use amikit_gdw376::{Frame, Profile, Repr};

/// Login of terminal 0171/2082 (liangminhua/qgdw376.1.ksy packet-sample/login.3761): C = C9
/// (up, PRM, link test), AFN 02, SEQ 78 (FIR FIN CON, sequence 8), DA 0000 DT 0100.
const LOGIN: [u8; 20] = [
    0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00, 0x00,
    0x01, 0x00, 0xE0, 0x16,
];

#[test]
fn a_captured_login_prints_as_one_line() {
    let frame = Frame::new_checked(&LOGIN[..], &Profile::default()).expect("frame");
    let repr = Repr::parse(&frame, &Profile::default()).expect("repr");
    assert_eq!(
        repr.to_string(),
        "0171-2082 up link test AFN 02 (link test) SEQ 8 FIR FIN CON, 4 B units"
    );
}
