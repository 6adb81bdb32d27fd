#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod codec;

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
