#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod amount;
pub mod block;
pub mod cipher;
pub mod crc;
pub mod dkga;
pub mod error;
pub mod keys;
pub mod meter;
pub mod pan;
pub mod tid;
pub mod token;
pub mod vend;

pub use block::TokenData;
pub use cipher::{SAMPLE_TABLES, StaTables, TokenCipher};
pub use keys::{DecoderKey, EncryptionAlgorithm, KeyParameters};
pub use meter::{Meter, MeterConfig};
pub use token::{Token, TokenClass};
pub use vend::Vendor;

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
