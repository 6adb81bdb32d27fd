//! `tokio_util::codec` framing for both protocols, on the sans-IO crates' deframers.
//!
//! * [`Dlt645Codec`]: DL/T 645 frames (RS-485, or a transparent serial server over TCP).
//! * [`Gdw376Codec`]: Q/GDW 376.1 frames (TCP/GPRS).
//!
//! Decoding never fails on line noise: every run of bytes a deframer drops comes out as an
//! item with its reason ([`Dlt645Item::Dropped`], [`Gdw376Item::Dropped`]), so the caller can
//! count and log it. Frames come out as [`FrameBuf`]s, fixed arrays owned by the item: no heap
//! allocation per frame on either side (the encoders write straight into the `BytesMut`).

mod dlt645;
mod frame_buf;
mod gdw376;

pub use dlt645::{DLT645_FRAME_MAX, Dlt645Codec, Dlt645Item};
pub use frame_buf::FrameBuf;
pub use gdw376::{GDW376_FRAME_MAX, Gdw376Codec, Gdw376Drop, Gdw376Item};

use bytes::BytesMut;

/// Why a frame could not be encoded or written.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The DL/T 645 frame could not be encoded.
    #[error("DL/T 645 encoding failed: {0}")]
    Dlt645(amikit_dlt645::EncodeError),
    /// The Q/GDW 376.1 frame could not be encoded.
    #[error("Q/GDW 376.1 encoding failed: {0}")]
    Gdw376(amikit_gdw376::EncodeError),
    /// The transport failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Appends `len` zero bytes to `dst`, lets `emit` write into them and keeps what it wrote;
/// on an error `dst` is left as it was.
fn emit_into<E>(
    dst: &mut BytesMut,
    len: usize,
    emit: impl FnOnce(&mut [u8]) -> Result<usize, E>,
) -> Result<usize, E> {
    let start = dst.len();
    dst.resize(start + len, 0);
    let written = match dst.get_mut(start..) {
        Some(out) => emit(out),
        None => Ok(0),
    };
    match written {
        Ok(n) => {
            dst.truncate(start + n.min(len));
            Ok(n)
        }
        Err(e) => {
            dst.truncate(start);
            Err(e)
        }
    }
}
