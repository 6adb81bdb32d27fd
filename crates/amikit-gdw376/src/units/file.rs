//! AFN 0F F1: file transfer. Downlink `file-id attr cmd n-segments(2) index(4) len(2) data`;
//! the reply returns the segment index (4 bytes).

use super::codec::{Reader, UnitLayout, Writer};
use crate::error::{EncodeError, UnitError};

/// AFN 0F F1 downlink: one file segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct FileSegment<'a> {
    /// File identifier.
    pub file_id: u8,
    /// File attribute (0 = start/middle, 1 = end, as used by upgrade tools).
    pub attr: u8,
    /// File command.
    pub cmd: u8,
    /// Total number of segments.
    pub segments: u16,
    /// This segment's index.
    pub index: u32,
    /// Segment data.
    #[cfg_attr(feature = "serde", serde(serialize_with = "super::common::ser_hex"))]
    pub data: &'a [u8],
}

impl<'a> UnitLayout<'a> for FileSegment<'a> {
    /// Parses the unit.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`].
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let file_id = r.u8()?;
        let attr = r.u8()?;
        let cmd = r.u8()?;
        let segments = r.u16()?;
        let index = r.u32()?;
        let len = r.u16()?;
        Ok(FileSegment {
            file_id,
            attr,
            cmd,
            segments,
            index,
            data: r.bytes(usize::from(len))?,
        })
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::OutOfRange`] above 65 535 data bytes, else as [`Writer`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.bytes(&[self.file_id, self.attr, self.cmd])?;
        w.u16(self.segments)?;
        w.u32(self.index)?;
        w.u16(
            u16::try_from(self.data.len())
                .map_err(|_| EncodeError::OutOfRange("segment length"))?,
        )?;
        w.bytes(self.data)
    }
}
