//! The result of a read: the identifier and its value bytes, decoded on demand through the
//! crate's catalogue.

use amikit_dlt645::catalogue::{self, BlockValues};
use amikit_dlt645::value::Value;
use amikit_dlt645::{Address, Data, DataId, Decimal};

use crate::error::{Error, Result};

/// What a meter answered to a read: the value's bytes (plain, wire order, all follow-up
/// frames assembled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    /// The meter.
    pub address: Address,
    /// The identifier read.
    pub di: DataId,
    /// Frames the value came in (1 without follow-up frames).
    pub frames: u8,
    data: Vec<u8>,
}

impl Reading {
    pub(crate) fn new(address: Address, di: DataId, frames: u8, data: &[u8]) -> Self {
        Reading {
            address,
            di,
            frames,
            data: data.to_vec(),
        }
    }

    /// The value's bytes (plain, wire order).
    pub fn data(&self) -> Data<'_> {
        Data::plain(&self.data)
    }

    /// The value, decoded with the identifier's catalogue format (2007 and 1997 catalogues);
    /// [`Value::Bytes`] for an identifier the catalogue does not know; `None` for the "no
    /// data" filler.
    ///
    /// # Errors
    ///
    /// [`Error::Value`] when the bytes do not fit the format.
    pub fn value(&self) -> Result<Option<Value<'_>>> {
        let data = self.data();
        let decoded = match self.di {
            DataId::V2007(di) => catalogue::lookup(di).map(|e| e.parse(data)),
            DataId::V1997(di) => catalogue::v1997::lookup(di).map(|e| e.parse(data)),
        };
        match decoded {
            Some(result) => result.map_err(Error::Value),
            None => Ok(Some(Value::Bytes(data))),
        }
    }

    /// The value as an exact number (energy in kWh, voltage in V, money in yuan … as the
    /// catalogue scales it).
    ///
    /// # Errors
    ///
    /// [`Error::Value`] as [`Reading::value`]; [`Error::NoValue`] for the filler or a value
    /// that is not a number.
    pub fn number(&self) -> Result<Decimal> {
        self.value()?.and_then(|v| v.number()).ok_or(Error::NoValue)
    }

    /// The members of a block read (`…FF` identifiers), each decoded with its own format;
    /// `None` for a 1997 identifier (no block catalogue).
    pub fn members(&self) -> Option<BlockValues<'_>> {
        match self.di {
            DataId::V2007(di) => Some(catalogue::parse_block(di, self.data())),
            DataId::V1997(_) => None,
        }
    }
}
