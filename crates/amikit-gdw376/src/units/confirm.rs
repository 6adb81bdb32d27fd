//! AFN 00: confirm / deny. F1 all confirmed and F2 all denied carry no data; F3 confirms or
//! denies item by item: `AFN {DA DT ERR}*`.

use super::codec::{Reader, UnitLayout, Writer};
use crate::afn::Afn;
use crate::dadt::DaDt;
use crate::error::{EncodeError, UnitError};

/// One item of an AFN 00 F3 reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ItemResult {
    /// The item (one pn and Fn, normally).
    pub dadt: DaDt,
    /// ERR: 0 = correct (confirmed), other values = error / denied.
    pub err: u8,
}

impl ItemResult {
    /// True when ERR is 0.
    #[must_use]
    pub const fn ok(&self) -> bool {
        self.err == 0
    }
}

/// AFN 00 F3: confirm/deny per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemResults<'a> {
    /// The AFN being answered.
    pub afn: Afn,
    items: &'a [u8],
}

impl<'a> ItemResults<'a> {
    /// Parses `AFN {DA DT ERR}*`.
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`] unless the items are whole 5-byte records.
    pub fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        let afn = Afn(r.u8()?);
        let items = r.remaining();
        if !items.len().is_multiple_of(5) {
            return Err(UnitError::Length {
                needed: items.len() / 5 * 5 + 5,
                available: items.len(),
            });
        }
        r.bytes(items.len())?;
        Ok(ItemResults { afn, items })
    }
    /// Wraps encoded items (`{DA DT ERR}*`).
    ///
    /// # Errors
    ///
    /// [`UnitError::Length`] unless whole 5-byte records.
    pub fn from_raw(afn: Afn, items: &'a [u8]) -> Result<Self, UnitError> {
        if !items.len().is_multiple_of(5) {
            return Err(UnitError::Length {
                needed: items.len() / 5 * 5 + 5,
                available: items.len(),
            });
        }
        Ok(ItemResults { afn, items })
    }
    /// The items.
    pub fn iter(&self) -> impl Iterator<Item = ItemResult> + 'a {
        self.items.chunks_exact(5).map(|c| match *c {
            [a, b, d, e, err] => ItemResult {
                dadt: DaDt::from_bytes([a, b, d, e]),
                err,
            },
            _ => ItemResult {
                dadt: DaDt::default(),
                err: 0xFF,
            },
        })
    }
    /// Number of items.
    #[must_use]
    pub fn len(&self) -> usize {
        self.items.len() / 5
    }
    /// True without items.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    /// Writes an F3 unit from items.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    pub fn write(
        w: &mut Writer<'_>,
        afn: Afn,
        items: impl IntoIterator<Item = ItemResult>,
    ) -> Result<(), EncodeError> {
        w.u8(afn.0)?;
        for it in items {
            w.bytes(&it.dadt.to_bytes())?;
            w.u8(it.err)?;
        }
        Ok(())
    }
}

impl<'a> UnitLayout<'a> for ItemResults<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self, UnitError> {
        ItemResults::parse(r)
    }
    /// Writes the unit.
    ///
    /// # Errors
    ///
    /// [`EncodeError::BufferTooSmall`].
    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.afn.0)?;
        w.bytes(self.items)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ItemResults<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ItemResults", 2)?;
        st.serialize_field("afn", &format_args!("{:02X}", self.afn.0))?;
        st.serialize_field("items", &ItemsSer(*self))?;
        st.end()
    }
}

#[cfg(feature = "serde")]
struct ItemsSer<'a>(ItemResults<'a>);

#[cfg(feature = "serde")]
impl serde::Serialize for ItemsSer<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ItemSer))
    }
}

#[cfg(feature = "serde")]
struct ItemSer(ItemResult);

#[cfg(feature = "serde")]
impl serde::Serialize for ItemSer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Item", 4)?;
        let (pn, fn_) = self
            .0
            .dadt
            .pairs()
            .next()
            .map_or((0, 0), |(p, f)| (p.0, f.0));
        st.serialize_field(
            "dadt",
            &format_args!(
                "{:02X}{:02X}{:02X}{:02X}",
                self.0.dadt.da1, self.0.dadt.da2, self.0.dadt.dt1, self.0.dadt.dt2
            ),
        )?;
        st.serialize_field("pn", &pn)?;
        st.serialize_field("fn", &fn_)?;
        st.serialize_field("err", &self.0.err)?;
        st.end()
    }
}
