//! `Repr::emit_buf` (feature `bytes`) writes exactly what `Repr::emit` writes.
#![cfg(feature = "bytes")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_dlt645::{Address, Di, EncodeError, Repr};
use bytes::BytesMut;

#[test]
fn emit_buf_appends_the_emitted_frame() {
    let req = Repr::read(Address::parse("000012345678").unwrap(), Di(0x0201_0100));
    let mut fixed = [0u8; 32];
    let n = req.emit(&mut fixed).unwrap();
    let mut buf = BytesMut::from(&b"head"[..]);
    assert_eq!(req.emit_buf(&mut buf).unwrap(), n);
    assert_eq!(&buf[..4], b"head");
    assert_eq!(&buf[4..], &fixed[..n]);
    // A BufMut without room for the frame is refused and left unchanged.
    let mut small = [0u8; 8];
    let mut slice = &mut small[..];
    assert_eq!(
        req.emit_buf(&mut slice),
        Err(EncodeError::BufferTooSmall { needed: n, got: 8 })
    );
    assert_eq!(small, [0u8; 8]);
}
