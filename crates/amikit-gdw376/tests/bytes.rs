//! `Repr::emit_buf` (feature `bytes`) writes exactly what `Repr::emit` writes.
#![cfg(feature = "bytes")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_gdw376::{EncodeError, Frame, Profile, Repr};
use bytes::BytesMut;

/// Login of terminal 0171/2082 (liangminhua/qgdw376.1.ksy packet-sample/login.3761).
const LOGIN: [u8; 20] = [
    0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78, 0x00, 0x00,
    0x01, 0x00, 0xE0, 0x16,
];

#[test]
fn emit_buf_appends_the_emitted_frame() {
    let profile = Profile::default();
    let frame = Frame::new_checked(&LOGIN[..], &Profile::default()).unwrap();
    let repr = Repr::parse(&frame, &profile).unwrap();
    let mut buf = BytesMut::from(&b"xy"[..]);
    assert_eq!(repr.emit_buf(&mut buf).unwrap(), LOGIN.len());
    assert_eq!(&buf[..2], b"xy");
    assert_eq!(&buf[2..], &LOGIN[..]);
    let mut small = [0u8; 10];
    let mut slice = &mut small[..];
    assert_eq!(
        repr.emit_buf(&mut slice),
        Err(EncodeError::BufferTooSmall {
            needed: LOGIN.len(),
            got: 10
        })
    );
}
