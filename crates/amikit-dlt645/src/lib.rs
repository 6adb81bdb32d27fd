#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod address;
pub mod catalogue;
pub mod control;
pub mod data;
pub mod deframer;
pub mod di;
pub mod error;
pub mod error_word;
pub mod frame;
pub mod meter;
pub mod multiframe;
pub mod remote;
pub mod reply;
pub mod repr;
pub mod request;
pub mod value;

#[cfg(feature = "defmt")]
mod log_format;

pub use address::Address;
pub use control::{Control, Direction, Edition, Function};
pub use data::Data;
pub use di::{DataId, Di, Di97};
pub use error::{EncodeError, FrameError, ParseError, ValueError};
pub use error_word::ErrorWord;
pub use frame::Frame;
pub use remote::{RemoteBody, RemoteCommand, RemoteControl, StatusWord3};
pub use reply::Reply;
pub use repr::{Body, Limits, Repr};
pub use request::{Auth, BaudRate, FreezeTime, OperatorCode, Password, Request};
pub use value::{DateTime, Decimal, Value};

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
