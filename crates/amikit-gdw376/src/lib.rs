#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod address;
pub mod afn;
#[doc(alias = "aux")]
pub mod auxiliary;
pub mod builder;
pub mod control;
pub mod dadt;
pub mod deframer;
pub mod error;
pub mod format;
pub mod frame;
pub mod identity;
pub mod profile;
pub mod requests;
pub mod security;
pub mod seq;
pub mod session;
pub mod time;
pub mod units;

#[cfg(feature = "defmt")]
mod log_format;
pub mod walker;

pub use address::{Address, AddressWidth};
pub use afn::{Afn, Command};
pub use auxiliary::{Ec, Tp};
pub use builder::{FrameBuilder, FrameWriter};
pub use control::{Control, Direction, Function};
pub use dadt::{DaDt, InfoClass, Pn};
pub use deframer::Deframer;

pub use error::{
    DaDtError, EncodeError, FormatError, FrameError, ParseError, SecurityError, UnitError,
};
pub use frame::{Frame, Repr};
pub use profile::{Leniency, Profile, Version};
pub use seq::Seq;
pub use time::{DateTime, Instant};
pub use walker::{Item, Unit, Units};

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
