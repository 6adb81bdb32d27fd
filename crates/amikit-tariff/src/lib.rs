#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

pub mod error;
pub mod quantity;

pub use error::{ParseError, QuantityError};
pub use quantity::{Cost, Energy, ExactMoney, Money, Price, Remainder, Rounding};

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
