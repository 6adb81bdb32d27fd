#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod codec;
pub mod dlt645;
pub mod error;
pub mod gdw376;

pub use error::{Error, Result};
/// The serial-port crate, for its types (`SerialStream`, parity, data and stop bits).
#[cfg(feature = "serial")]
pub use tokio_serial;

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
