//! Q/GDW 376.1 framing on [`amikit_gdw376::deframer::Deframer`].

use amikit_gdw376::deframer::{Deframer, Stats};
use amikit_gdw376::{FrameError, Profile, Repr};
use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{CodecError, FrameBuf, emit_into};

/// The longest Q/GDW 376.1 frame the codec accepts (the deframer's buffer; longer candidates
/// are skipped).
pub const GDW376_FRAME_MAX: usize = 2048;

/// Bytes the Q/GDW 376.1 deframer skipped or rejected since the last item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gdw376Drop {
    /// Bytes skipped while looking for a frame start (garbage, gateway prefixes, the bytes
    /// of rejected candidates).
    pub skipped: u64,
    /// Candidates rejected (bad L pair, second `68`, checksum, end byte, too long).
    pub rejected: u64,
    /// The last rejection's reason.
    pub reason: Option<FrameError>,
    /// Bytes of a partial frame lost when the stream ended.
    pub truncated: usize,
}

/// What the Q/GDW 376.1 decoder found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // a boxed frame would cost an allocation per frame
pub enum Gdw376Item {
    /// A complete, checked frame.
    Frame(FrameBuf<GDW376_FRAME_MAX>),
    /// Bytes were dropped before the next frame (reported after the frame that ended the
    /// same input, when both happened in one call).
    Dropped(Gdw376Drop),
}

/// Q/GDW 376.1 codec: decodes checked frames and dropped runs, encodes a [`Repr`].
#[derive(Debug, Clone)]
pub struct Gdw376Codec {
    deframer: Deframer<GDW376_FRAME_MAX>,
    last: Stats,
    pending: Option<Gdw376Drop>,
}

impl Default for Gdw376Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Gdw376Codec {
    /// A codec under the strict 2013 profile.
    pub const fn new() -> Self {
        Self::with_profile(Profile::STRICT_2013)
    }

    /// A codec under `profile` (dialect leniencies of the link layer).
    pub const fn with_profile(profile: Profile) -> Self {
        Gdw376Codec {
            deframer: Deframer::with_profile(profile),
            last: Stats {
                frames: 0,
                skipped: 0,
                rejected: 0,
                last_error: None,
                examined: 0,
            },
            pending: None,
        }
    }

    /// The deframer's counters.
    pub const fn stats(&self) -> &Stats {
        self.deframer.stats()
    }

    /// What was dropped since the counters were last looked at.
    fn take_drop(&mut self) -> Option<Gdw376Drop> {
        let now = *self.deframer.stats();
        let skipped = now.skipped.saturating_sub(self.last.skipped);
        let rejected = now.rejected.saturating_sub(self.last.rejected);
        self.last = now;
        (skipped > 0 || rejected > 0).then_some(Gdw376Drop {
            skipped,
            rejected,
            reason: if rejected > 0 { now.last_error } else { None },
            truncated: 0,
        })
    }
}

impl Decoder for Gdw376Codec {
    type Item = Gdw376Item;
    type Error = std::io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Gdw376Item>, std::io::Error> {
        if let Some(dropped) = self.pending.take() {
            return Ok(Some(Gdw376Item::Dropped(dropped)));
        }
        while !src.is_empty() {
            let out = self.deframer.push(src);
            let consumed = out.consumed;
            let frame = out.frame.map(FrameBuf::copy_from);
            src.advance(consumed);
            let dropped = self.take_drop();
            match frame {
                Some(Some(frame)) => {
                    self.pending = dropped;
                    return Ok(Some(Gdw376Item::Frame(frame)));
                }
                // Cannot happen: the deframer's frames fit its own buffer size.
                Some(None) => {
                    return Ok(Some(Gdw376Item::Dropped(Gdw376Drop {
                        skipped: 0,
                        rejected: 1,
                        reason: None,
                        truncated: 0,
                    })));
                }
                None => {
                    if let Some(dropped) = dropped {
                        return Ok(Some(Gdw376Item::Dropped(dropped)));
                    }
                    if consumed == 0 {
                        return Err(std::io::Error::other(
                            "Q/GDW 376.1 deframer made no progress",
                        ));
                    }
                }
            }
        }
        Ok(None)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Gdw376Item>, std::io::Error> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        let truncated = self.deframer.pending();
        if truncated == 0 {
            return Ok(None);
        }
        self.deframer.reset();
        Ok(Some(Gdw376Item::Dropped(Gdw376Drop {
            skipped: 0,
            rejected: 0,
            reason: None,
            truncated,
        })))
    }
}

impl Encoder<&Repr<'_>> for Gdw376Codec {
    type Error = CodecError;

    fn encode(&mut self, item: &Repr<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        emit_into(dst, item.buffer_len(), |out| item.emit(out)).map_err(CodecError::Gdw376)?;
        Ok(())
    }
}
