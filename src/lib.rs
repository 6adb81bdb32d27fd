//! # amikit
//!
//! Reusable protocol and domain libraries for **prepaid electricity metering**, re-exported from
//! one crate. Each module is a crate of its own that can also be used alone:
//!
//! | module | crate | job |
//! |---|---|---|
//! | [`dlt645`] | `amikit-dlt645` | DL/T 645-2007 and -1997 meter frames (RS-485) |
//! | [`gdw376`] | `amikit-gdw376` | Q/GDW 376.1 master-station ↔ terminal frames and sessions |
//! | [`sts`] | `amikit-sts` | STS (IEC 62055-41) 20-digit tokens |
//! | [`tariff`] | `amikit-tariff` | tariff and balance arithmetic |
//! | [`prepay`] | `amikit-prepay` | charge-control state machines |
//!
//! Every module sits behind a cargo feature of its name (all on by default). The features
//! `alloc` and `serde` are passed through to every enabled crate that has them; `alloc` is on by
//! default.
//! One crate per module, one API: a master station builds a DL/T 645 read of forward active
//! energy and reads its own frame back, and the tariff module keeps money exact.
//!
//! ```
//! # #[cfg(all(feature = "dlt645", feature = "tariff"))]
//! # fn main() -> Result<(), Box<dyn core::error::Error>> {
//! use amikit::dlt645::{Address, Body, DataId, Di, Edition, Frame, Repr, Request};
//! use amikit::tariff::{Energy, Money, Price, Rounding};
//!
//! let meter = Address::parse("000012345678")?;
//! let mut buf = [0u8; 16];
//! let n = Repr::read(meter, Di::FORWARD_ACTIVE_ENERGY).emit(&mut buf)?;
//! let frame = Frame::new_checked(buf.get(..n).ok_or("short")?)?;
//! let repr = Repr::parse(&frame, Edition::V2007)?;
//! assert_eq!(repr.address, meter);
//! assert!(matches!(
//!     repr.body,
//!     Body::Request(Request::Read { di: DataId::V2007(Di::FORWARD_ACTIVE_ENERGY), .. })
//! ));
//!
//! // 123.456 kWh at 0.5883 a kWh, rounded half-up to the money quantum.
//! let exact = Price::parse("0.5883")?.exact_cost(Energy::parse("123.456")?)?;
//! let cost = exact.round(Rounding::HalfUp)?;
//! assert_eq!(cost, Money::parse("72.6292")?);
//! # Ok(())
//! # }
//! # #[cfg(not(all(feature = "dlt645", feature = "tariff")))]
//! # fn main() {}
//! ```
//!
//! For firmware, turn the defaults off and pick what you need:
//!
//! ```toml
//! amikit = { version = "0.1", default-features = false, features = ["dlt645", "sts"] }
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// DL/T 645-2007 and DL/T 645-1997 meter frames (re-export of `amikit-dlt645`).
#[cfg(feature = "dlt645")]
pub use amikit_dlt645 as dlt645;

/// Q/GDW 376.1 master-station ↔ terminal frames (re-export of `amikit-gdw376`).
#[cfg(feature = "gdw376")]
pub use amikit_gdw376 as gdw376;

/// STS (IEC 62055-41) prepayment tokens (re-export of `amikit-sts`).
#[cfg(feature = "sts")]
pub use amikit_sts as sts;

/// Tariff and balance arithmetic (re-export of `amikit-tariff`).
#[cfg(feature = "tariff")]
pub use amikit_tariff as tariff;

/// Charge-control state machines (re-export of `amikit-prepay`).
#[cfg(feature = "prepay")]
pub use amikit_prepay as prepay;
