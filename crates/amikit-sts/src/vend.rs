//! The vending side: credit, management and key-change tokens for one meter.
//!
//! A [`Vendor`] holds the meter's token cipher (its decoder key with the key schedule computed
//! once), its key type and its base date. It:
//!
//! * refuses credit to a meter on its default key (KT = 1, DDTK; STS 531 CTSA16);
//! * never emits a reserved TID: an issue time of 00:01 becomes 00:02 ([`Tid::for_issue`]),
//!   and an explicit reserved TID is refused;
//! * rounds amounts and limits **up** to the next representable value;
//! * takes the RND from the caller: a fixed [`Rnd`], or [`Rnd::random`] from any
//!   [`RndSource`] (implemented for every `rand_core::Rng` with the `rand_core` feature).
//!
//! ```
//! use amikit_sts::block::{CreditKind, Rnd};
//! use amikit_sts::cipher::{SAMPLE_TABLES, TokenCipher};
//! use amikit_sts::keys::KeyType;
//! use amikit_sts::tid::{BaseDate, DateTime};
//! use amikit_sts::vend::{Issue, Vendor};
//!
//! // IEC 62055-41 worked example: 25.6 kWh at 1996-03-25 13:55, RND 11, sample tables.
//! let vendor = Vendor::new(
//!     TokenCipher::Sta(amikit_sts::cipher::Sta::new(0x0ABC_12DE_F345_6789, &SAMPLE_TABLES)),
//!     KeyType::Unique,
//!     BaseDate::Y1993,
//! );
//! let at: DateTime = "1996-03-25T13:55".parse()?;
//! let token = vendor.credit(CreditKind::Electricity, 256, Issue::At(at), Rnd::try_from(11)?)?;
//! assert_eq!(token.to_string(), "51043465443420856213");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::amount::Amount;
use crate::block::{
    ClearCredit, ClearTamper, Credit, CreditKind, CurrencyCredit, KeyChange1, KeyChange2,
    KeyChange3, KeyChange4, MaxPhasePowerUnbalanceLimit, MaxPowerLimit, Rnd, TariffRate, TokenData,
    WaterMeterFactor,
};
use crate::cipher::{StaTables, TokenCipher};
use crate::dkga::VendingKey;
use crate::error::{KeyError, TidError, VendError};
use crate::keys::{
    DecoderKey, KeyExpiry, KeyParameters, KeyRevision, KeySection, KeyType, SupplyGroupCode,
    TariffIndex,
};
use crate::tid::{BaseDate, DateTime, Tid};
use crate::token::Token;

/// A source of random RND values (a caller-supplied random generator; no_std).
pub trait RndSource {
    /// The next random 4-bit value.
    fn next_rnd(&mut self) -> Rnd;
}

#[cfg(feature = "rand_core")]
impl<R: rand_core::Rng + ?Sized> RndSource for R {
    fn next_rnd(&mut self) -> Rnd {
        Rnd::from_bits(self.next_u32() as u8)
    }
}

impl Rnd {
    /// A random RND from `source`.
    pub fn random<S: RndSource + ?Sized>(source: &mut S) -> Rnd {
        source.next_rnd()
    }
}

/// When a TID-bearing token is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// At this date-time (on the base date's clock); the reserved minute moves to the next.
    At(DateTime),
    /// With exactly this TID; a reserved TID is refused.
    Tid(Tid),
}

/// A management (class 2, TID-bearing) operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Management {
    /// 2/0: set the maximum power limit to at least `watts` (rounded up to the amount code).
    MaxPowerLimit {
        /// The limit in watts.
        watts: u64,
    },
    /// 2/1: clear a credit register (0xFFFF: all).
    ClearCredit {
        /// The register.
        register: u16,
    },
    /// 2/2: set the tariff rate.
    TariffRate {
        /// The rate.
        rate: u16,
    },
    /// 2/5: clear the tamper condition.
    ClearTamper,
    /// 2/6: set the maximum phase power unbalance limit to at least `watts`.
    MaxPhasePowerUnbalanceLimit {
        /// The limit in watts.
        watts: u64,
    },
    /// 2/7: set the water meter factor.
    WaterMeterFactor {
        /// The factor.
        factor: u16,
    },
}

/// The new key and its parameters, for a key-change token set (not `Copy`: the key is
/// zeroized when dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The new decoder key: 64-bit (2 sections, or 3 with `sgc`) or 128-bit (4 sections).
    pub key: DecoderKey,
    /// The new key type.
    pub kt: KeyType,
    /// The new key revision number.
    pub krn: KeyRevision,
    /// The new key expiry number.
    pub ken: KeyExpiry,
    /// The new tariff index.
    pub ti: TariffIndex,
    /// RO: the meter clears its TID memory (the TID rollover key change).
    pub rollover: bool,
    /// The new supply group code: required for a 128-bit key (sections 3 and 4 carry it);
    /// for a 64-bit key it adds a third section with the 3KCT bit (**unverified** layout).
    pub sgc: Option<SupplyGroupCode>,
}

/// The tokens of a key change, in entry order (1st, 2nd, then 3rd and 4th sections).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChangeTokens {
    tokens: [Token; 4],
    len: usize,
}

impl core::ops::Deref for KeyChangeTokens {
    type Target = [Token];

    /// The tokens (2, 3 or 4), in entry order.
    fn deref(&self) -> &[Token] {
        self.tokens.get(..self.len).unwrap_or(&[])
    }
}

impl<'a> IntoIterator for &'a KeyChangeTokens {
    type Item = &'a Token;
    type IntoIter = core::slice::Iter<'a, Token>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Makes tokens for one meter.
#[derive(Debug, Clone)]
pub struct Vendor<'t> {
    cipher: TokenCipher<'t>,
    key_type: KeyType,
    base_date: BaseDate,
}

impl<'t> Vendor<'t> {
    /// A vendor for the meter whose decoder key is in `cipher`, of key type `key_type`, whose
    /// TIDs count from `base_date`.
    pub fn new(cipher: TokenCipher<'t>, key_type: KeyType, base_date: BaseDate) -> Vendor<'t> {
        Vendor {
            cipher,
            key_type,
            base_date,
        }
    }

    /// Derives the meter's decoder key from the vending key and its parameters, and makes its
    /// vendor (EA07 needs `tables`).
    pub fn for_meter(
        vending_key: &VendingKey,
        params: &KeyParameters,
        tables: Option<&'t StaTables>,
    ) -> Result<Vendor<'t>, KeyError> {
        let key = vending_key.derive(params)?;
        let cipher = TokenCipher::new(params.ea, &key, tables)?;
        Ok(Vendor::new(cipher, params.kt, params.base_date))
    }

    /// The meter's token cipher.
    pub fn cipher(&self) -> &TokenCipher<'t> {
        &self.cipher
    }

    /// The meter's base date.
    pub fn base_date(&self) -> BaseDate {
        self.base_date
    }

    /// The TID for `issue` (never a reserved one).
    pub fn tid(&self, issue: Issue) -> Result<Tid, VendError> {
        match issue {
            Issue::At(at) => Ok(Tid::for_issue(&at, self.base_date)?),
            Issue::Tid(tid) if tid.is_reserved() => Err(TidError::Reserved(tid.value()).into()),
            Issue::Tid(tid) => Ok(tid),
        }
    }

    /// Encrypts any data block as a token (no policy checks: prefer the typed methods).
    pub fn encode(&self, data: &TokenData) -> Result<Token, VendError> {
        Ok(self.cipher.encode(data)?)
    }

    /// A credit token for at least `tenths` tenths of a unit (0.1 kWh for electricity), rounded
    /// up to the next representable amount.
    pub fn credit(
        &self,
        kind: CreditKind,
        tenths: u64,
        issue: Issue,
        rnd: Rnd,
    ) -> Result<Token, VendError> {
        self.credit_amount(kind, Amount::from_value_ceil(tenths)?, issue, rnd)
    }

    /// A credit token for an exact amount code.
    pub fn credit_amount(
        &self,
        kind: CreditKind,
        amount: Amount,
        issue: Issue,
        rnd: Rnd,
    ) -> Result<Token, VendError> {
        if self.key_type == KeyType::Default {
            return Err(VendError::DefaultKey);
        }
        let tid = self.tid(issue)?;
        self.encode(&TokenData::Credit(Credit {
            kind,
            rnd,
            tid,
            amount,
        }))
    }

    /// A currency credit token (0/4–0/7). **The layout is unverified**, see
    /// [`CurrencyCredit`].
    pub fn currency_credit(
        &self,
        kind: CreditKind,
        amount: Amount,
        issue: Issue,
        rnd: Rnd,
    ) -> Result<Token, VendError> {
        if self.key_type == KeyType::Default {
            return Err(VendError::DefaultKey);
        }
        let tid = self.tid(issue)?;
        self.encode(&TokenData::Currency(CurrencyCredit {
            kind,
            rnd,
            tid,
            amount,
        }))
    }

    /// A management token (class 2, TID-bearing).
    pub fn management(&self, op: Management, issue: Issue, rnd: Rnd) -> Result<Token, VendError> {
        let tid = self.tid(issue)?;
        let data = match op {
            Management::MaxPowerLimit { watts } => TokenData::MaxPowerLimit(MaxPowerLimit {
                rnd,
                tid,
                limit: Amount::from_value_ceil(watts)?,
            }),
            Management::ClearCredit { register } => {
                TokenData::ClearCredit(ClearCredit { rnd, tid, register })
            }
            Management::TariffRate { rate } => TokenData::TariffRate(TariffRate { rnd, tid, rate }),
            Management::ClearTamper => TokenData::ClearTamper(ClearTamper { rnd, tid, pad: 0 }),
            Management::MaxPhasePowerUnbalanceLimit { watts } => {
                TokenData::MaxPhasePowerUnbalanceLimit(MaxPhasePowerUnbalanceLimit {
                    rnd,
                    tid,
                    limit: Amount::from_value_ceil(watts)?,
                })
            }
            Management::WaterMeterFactor { factor } => {
                TokenData::WaterMeterFactor(WaterMeterFactor { rnd, tid, factor })
            }
        };
        self.encode(&data)
    }

    /// The key-change token set that installs `new` (encrypted under the meter's current key).
    ///
    /// A 64-bit key gives sections 1 and 2 (plus a 3KCT third section when `new.sgc` is set);
    /// a 128-bit key gives sections 1, 2, 3 and 4.
    pub fn key_change(&self, new: &NewKey) -> Result<KeyChangeTokens, VendError> {
        let ken = new.ken.0;
        let (high, low, parts34) = match new.key {
            DecoderKey::Bits64(k) => {
                let third = new.sgc.map(|sgc| KeyChange3::for_3kct(sgc.value()));
                ((k >> 32) as u32, k as u32, third.map(|t| (t, None)))
            }
            DecoderKey::Bits128(k) => {
                let sgc = new.sgc.ok_or(VendError::MissingSgc)?.value();
                let third = KeyChange3 {
                    sgc_bits: (sgc & 0xFFF) as u16,
                    key_bits: KeySection::new((k >> 64) as u32),
                };
                let fourth = KeyChange4 {
                    sgc_bits: ((sgc >> 12) & 0xFFF) as u16,
                    key_bits: KeySection::new((k >> 32) as u32),
                };
                ((k >> 96) as u32, k as u32, Some((third, Some(fourth))))
            }
        };
        let first = TokenData::KeyChange1(KeyChange1 {
            ken_high: ken >> 4,
            krn: new.krn.value(),
            rollover: new.rollover,
            third_section: matches!(new.key, DecoderKey::Bits64(_)) && parts34.is_some(),
            kt: new.kt,
            key_bits: KeySection::new(high),
        });
        let second = TokenData::KeyChange2(KeyChange2 {
            ken_low: ken & 15,
            ti: new.ti.value(),
            key_bits: KeySection::new(low),
        });
        let mut tokens = [
            self.encode(&first)?,
            self.encode(&second)?,
            NO_TOKEN,
            NO_TOKEN,
        ];
        let mut len = 2;
        if let Some((third, fourth)) = parts34 {
            if let Some(slot) = tokens.get_mut(2) {
                *slot = self.encode(&TokenData::KeyChange3(third))?;
                len = 3;
            }
            if let (Some(fourth), Some(slot)) = (fourth, tokens.get_mut(3)) {
                *slot = self.encode(&TokenData::KeyChange4(fourth))?;
                len = 4;
            }
        }
        Ok(KeyChangeTokens { tokens, len })
    }
}

/// Token 0, the filler of unused slots in [`KeyChangeTokens`].
const NO_TOKEN: Token = Token::from_block(crate::token::TokenClass::TRANSFER, 0);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cipher::SAMPLE_TABLES;

    fn vendor(kt: KeyType) -> Vendor<'static> {
        Vendor::new(
            TokenCipher::Sta(crate::cipher::Sta::new(
                0x0ABC_12DE_F345_6789,
                &SAMPLE_TABLES,
            )),
            kt,
            BaseDate::Y1993,
        )
    }

    #[test]
    fn refuses_default_key_credit() {
        let v = vendor(KeyType::Default);
        let at = Issue::Tid(Tid::new(100).unwrap());
        assert_eq!(
            v.credit(CreditKind::Electricity, 10, at, Rnd::default()),
            Err(VendError::DefaultKey)
        );
        // Management is still allowed.
        assert!(
            v.management(Management::ClearTamper, at, Rnd::default())
                .is_ok()
        );
    }

    #[test]
    fn reserved_tid() {
        let v = vendor(KeyType::Unique);
        let reserved = Tid::new(1440 * 5 + 1).unwrap();
        assert_eq!(
            v.credit(
                CreditKind::Electricity,
                10,
                Issue::Tid(reserved),
                Rnd::default()
            ),
            Err(VendError::Tid(TidError::Reserved(1440 * 5 + 1)))
        );
        let at: DateTime = "2004-03-29T00:01".parse().unwrap();
        let token = v
            .credit(CreditKind::Electricity, 10, Issue::At(at), Rnd::default())
            .unwrap();
        let data = v.cipher().decode(token).unwrap();
        assert_eq!(data.tid().map(Tid::value), Some(5_911_202));
    }

    #[test]
    fn key_change_sets() {
        let v = vendor(KeyType::Unique);
        let mut new = NewKey {
            key: DecoderKey::Bits64(0x060B_8643_C59A_27F1),
            kt: KeyType::Unique,
            krn: KeyRevision::new(1).unwrap(),
            ken: KeyExpiry::NEVER,
            ti: TariffIndex::new(2).unwrap(),
            rollover: false,
            sgc: None,
        };
        assert_eq!(v.key_change(&new).unwrap().len(), 2);
        new.sgc = Some(SupplyGroupCode::new(123_457).unwrap());
        let set = v.key_change(&new).unwrap();
        assert_eq!(set.len(), 3);
        let TokenData::KeyChange3(third) = v.cipher().decode(set[2]).unwrap() else {
            panic!("not a third section")
        };
        assert_eq!(third.sgc_3kct(), Some(123_457));
        new.key = DecoderKey::Bits128(1);
        assert_eq!(v.key_change(&new).unwrap().len(), 4);
        new.sgc = None;
        assert_eq!(v.key_change(&new), Err(VendError::MissingSgc));
    }
}
