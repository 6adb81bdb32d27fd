#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
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
pub use cipher::{BlockCipher64, SAMPLE_TABLES, StaTables, TokenCipher};
pub use keys::{DecoderKey, EncryptionAlgorithm, KeyParameters};
pub use meter::{Meter, MeterConfig};
pub use token::{Token, TokenClass};
pub use vend::Vendor;

/// Compile-time proof that no key-bearing type can be printed: none implements `Display`,
/// `LowerHex` or `UpperHex` (their `Debug` output is redacted, see each type). Adding such an
/// implementation makes the `check()` calls below ambiguous, and the crate stops compiling.
mod no_key_formatting {
    use core::fmt::{Display, LowerHex, UpperHex};

    use crate::block::{KeyChange1, KeyChange2, KeyChange3, KeyChange4, TokenData};
    use crate::cipher::{Des, Misty1, Sta, TokenCipher};
    use crate::dkga::{Dkga02, Dkga04, VendingKey};
    use crate::keys::{DecoderKey, KeySection};
    use crate::meter::{Accepted, Meter, MeterConfig};
    use crate::vend::{NewKey, Vendor};

    /// Implemented for every type; a second implementation exists for printable types, which
    /// makes `<T as Printable<_>>::check` ambiguous for them.
    trait Printable<Via> {
        fn check() {}
    }
    impl<T: ?Sized> Printable<()> for T {}
    struct ViaDisplay;
    impl<T: ?Sized + Display> Printable<ViaDisplay> for T {}
    struct ViaLowerHex;
    impl<T: ?Sized + LowerHex> Printable<ViaLowerHex> for T {}
    struct ViaUpperHex;
    impl<T: ?Sized + UpperHex> Printable<ViaUpperHex> for T {}

    macro_rules! not_printable {
        ($($t:ty),* $(,)?) => {
            $(const _: fn() = || <$t as Printable<_>>::check();)*
        };
    }

    not_printable!(
        DecoderKey,
        KeySection,
        KeyChange1,
        KeyChange2,
        KeyChange3,
        KeyChange4,
        TokenData,
        Accepted,
        NewKey,
        MeterConfig,
        VendingKey,
        Dkga02,
        Dkga04,
        Des,
        Misty1,
        Sta<'static>,
        TokenCipher<'static>,
        Vendor<'static>,
        Meter<'static, 1>,
    );
}

/// The version of this crate, as published.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
