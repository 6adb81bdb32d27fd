//! DL/T 645 framing on [`amikit_dlt645::deframer::Deframer`].

use amikit_dlt645::deframer::{Deframer, DropReason, Event};
use amikit_dlt645::{Direction, Frame, Repr};
use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{CodecError, FrameBuf, emit_into};

/// The longest DL/T 645 frame the codec holds: 12 bytes of overhead, `L` up to 255 and a
/// wake-up preamble of up to 5 `FE` (DL/T 645-2007 §4.1 allows the master to send `FE` bytes
/// before a frame; replies may carry them too).
pub const DLT645_FRAME_MAX: usize = 272;

/// What the DL/T 645 decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // a boxed frame would cost an allocation per frame
pub enum Dlt645Item {
    /// A complete frame whose checksum and end byte are right (its preamble included).
    Frame(FrameBuf<DLT645_FRAME_MAX>),
    /// `len` bytes were dropped, and why (noise, a bad checksum, an echo of our own request …).
    Dropped {
        /// How many bytes.
        len: usize,
        /// Why.
        reason: DropReason,
    },
}

impl Dlt645Item {
    /// The frame, for [`Dlt645Item::Frame`].
    pub fn frame(&self) -> Option<Frame<&[u8]>> {
        match self {
            Dlt645Item::Frame(buf) => Some(Frame::new_unchecked(buf.as_bytes())),
            Dlt645Item::Dropped { .. } => None,
        }
    }
}

/// DL/T 645 codec: decodes frames and dropped runs, encodes a [`Repr`] with the configured
/// wake-up preamble.
#[derive(Debug, Clone)]
pub struct Dlt645Codec {
    deframer: Deframer<DLT645_FRAME_MAX>,
    preamble: u8,
}

impl Default for Dlt645Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Dlt645Codec {
    /// Both directions, no preamble on encoded frames.
    pub const fn new() -> Self {
        Dlt645Codec {
            deframer: Deframer::new(),
            preamble: 0,
        }
    }

    /// A master's codec: it yields only replies; the echo of its own requests on a
    /// half-duplex line comes out as dropped ([`DropReason::OtherDirection`]).
    pub const fn master() -> Self {
        Dlt645Codec {
            deframer: Deframer::new().accept_only(Direction::SlaveToMaster),
            preamble: 0,
        }
    }

    /// A meter's codec: it yields only requests (its own replies echoed are dropped).
    pub const fn meter() -> Self {
        Dlt645Codec {
            deframer: Deframer::new().accept_only(Direction::MasterToSlave),
            preamble: 0,
        }
    }

    /// Writes `n` `FE` wake-up bytes before every encoded frame (at most 4 are useful; the
    /// frame is still bounded by [`DLT645_FRAME_MAX`]).
    pub const fn with_preamble(mut self, n: u8) -> Self {
        self.preamble = n;
        self
    }

    /// The deframer's counters (frames, bytes delivered, bytes dropped).
    pub const fn stats(&self) -> amikit_dlt645::deframer::Stats {
        self.deframer.stats()
    }

    /// Forgets buffered bytes (e.g. before a new request on a noisy line).
    pub fn reset(&mut self) {
        self.deframer.reset();
    }

    fn next_item(&mut self) -> Option<Dlt645Item> {
        match self.deframer.next()? {
            Event::Frame(frame) => {
                let bytes = frame.into_inner();
                FrameBuf::copy_from(bytes)
                    .map(Dlt645Item::Frame)
                    .or(Some(Dlt645Item::Dropped {
                        len: bytes.len(),
                        reason: DropReason::Overflow,
                    }))
            }
            Event::Skipped { len, reason } => Some(Dlt645Item::Dropped { len, reason }),
        }
    }
}

impl Decoder for Dlt645Codec {
    type Item = Dlt645Item;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Dlt645Item>, std::io::Error> {
        loop {
            if let Some(item) = self.next_item() {
                return Ok(Some(item));
            }
            if src.is_empty() {
                return Ok(None);
            }
            let taken = self.deframer.push(src);
            if taken == 0 {
                // The deframer's buffer is full and it yields nothing: cannot happen with a
                // buffer above the longest frame, but never spin on it.
                self.deframer.idle();
                if let Some(item) = self.next_item() {
                    return Ok(Some(item));
                }
                return Err(std::io::Error::other("DL/T 645 deframer made no progress"));
            }
            src.advance(taken);
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Dlt645Item>, std::io::Error> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        // The stream ended: a partial frame will not be completed.
        self.deframer.idle();
        Ok(self.next_item())
    }
}

impl Encoder<&Repr<'_>> for Dlt645Codec {
    type Error = CodecError;

    fn encode(&mut self, item: &Repr<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        let repr = if self.preamble > 0 {
            item.with_preamble(self.preamble)
        } else {
            *item
        };
        emit_into(dst, repr.buffer_len(), |out| repr.emit(out)).map_err(CodecError::Dlt645)?;
        Ok(())
    }
}
