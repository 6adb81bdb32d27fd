//! The meter side: the token decoder state machine a meter firmware embeds.
//!
//! A [`Meter`] holds the decoder key (and its cipher), key type, KRN, KEN, TI, SGC, base date,
//! a TID memory of `N` entries and a credit register. [`Meter::enter`] takes one token and the
//! current time and returns either [`Accepted`] (with the [`Action`] the meter must carry out)
//! or a [`Reject`] reason. Nothing reads a clock: `now` is seconds on any monotonic scale the
//! firmware likes; only differences are used (for the key-change timeout).
//!
//! Order of checks (IEC 62055-41 and STS Association material):
//!
//! 1. parse the 20 digits ([`Reject::Format`]);
//! 2. take the class; decrypt classes 0 and 2 with the current key; check the CRC
//!    ([`Reject::Crc`]: wrong key or typo). Class 1 is not encrypted;
//! 3. credit to a meter on its default key (KT = 1) → [`Reject::KeyTypeNotAllowed`];
//! 4. TID-bearing tokens: `TID >> 16 > KEN` → [`Reject::KeyExpired`] (KEN 0xFF disables);
//!    a TID in the memory → [`Reject::Used`]; memory full and the TID older than the oldest
//!    stored → [`Reject::Old`];
//! 5. value checks: [`Reject::Range`] (an amount above the per-token maximum, a key change
//!    with KRN 0 or TI above 99), [`Reject::Overflow`] (the credit register would pass its limit);
//! 6. accept: store the TID (evicting the oldest when full) and return the action.
//!
//! Key changes (2/3, 2/4, and 2/8, 2/9 for 128-bit keys or 2/8 with the 3KCT bit) are collected
//! across entries, in any order, under the current key; all sections must arrive within
//! [`MeterConfig::key_change_timeout`] seconds of the first. Then the new key, KT, KRN, KEN and
//! TI (and the SGC when carried) are installed; with RO = 1 the TID memory is cleared and the
//! base date advances (1993 → 2014 → 2035), the TID rollover key change. The credit register
//! survives key changes.
//!
//! ```
//! use amikit_sts::block::{CreditKind, Rnd};
//! use amikit_sts::cipher::SAMPLE_TABLES;
//! use amikit_sts::keys::*;
//! use amikit_sts::meter::{Action, Meter, MeterConfig, Reject};
//! use amikit_sts::tid::{BaseDate, Tid};
//! use amikit_sts::vend::{Issue, Vendor};
//!
//! let key = DecoderKey::Bits64(0x0ABC_12DE_F345_6789);
//! let config = MeterConfig::new(key, EncryptionAlgorithm::Sta, KeyType::Unique, BaseDate::Y1993);
//! let mut meter: Meter<'_, 50> = Meter::new(config, Some(&SAMPLE_TABLES))?;
//! let vendor = Vendor::new(meter.cipher().clone(), KeyType::Unique, BaseDate::Y1993);
//!
//! let token = vendor.credit(CreditKind::Electricity, 256, Issue::Tid(Tid::try_from(1_698_595)?), Rnd::try_from(11)?)?;
//! let accepted = meter.enter(token, 0)?;
//! assert!(matches!(accepted.action, Action::AddCredit { balance: 256, .. }));
//! assert!(matches!(meter.enter(token, 60), Err(Reject::Used { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::amount::{Amount, MAX_VALUE};
use crate::block::{
    CreditKind, KeyChange1, KeyChange2, KeyChange3, KeyChange4, MeterTestFormat, TokenData,
};
use crate::cipher::{StaTables, TokenCipher};
use crate::error::{DecodeError, KeyError, TokenError};
use crate::keys::{
    DecoderKey, EncryptionAlgorithm, KeyExpiry, KeyParameters, KeyRevision, KeyType,
    SupplyGroupCode, TariffIndex,
};
use crate::tid::{BaseDate, Tid};
use crate::token::{Token, TokenClass};

/// Why the meter refuses a token (the standard's reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    /// Not 20 digits below 2^66.
    #[error("format error: {0}")]
    Format(#[from] TokenError),
    /// CRC/authentication failure: the token was not made with this meter's key, or mistyped.
    #[error("authentication failed (CRC): wrong key or mistyped token")]
    Crc,
    /// The key has expired for this TID: `TID >> 16` is above the KEN.
    #[error("key expired: TID {tid} is past key expiry number {ken}")]
    KeyExpired {
        /// The token's TID.
        tid: Tid,
        /// The meter's KEN.
        ken: u8,
    },
    /// The TID memory is full and this TID is older than its oldest entry.
    #[error("old token: TID {tid} is older than the oldest remembered ({oldest})")]
    Old {
        /// The token's TID.
        tid: Tid,
        /// The oldest TID in memory.
        oldest: Tid,
    },
    /// The token was already used (its TID is in the memory).
    #[error("token already used (TID {tid})")]
    Used {
        /// The token's TID.
        tid: Tid,
    },
    /// The meter's key type does not allow this token (credit on the default key, KT = 1).
    #[error("key type {kt} does not allow this token")]
    KeyTypeNotAllowed {
        /// The meter's key type.
        kt: KeyType,
    },
    /// A value outside the range the meter supports.
    #[error("range error: {what}")]
    Range {
        /// What is out of range.
        what: &'static str,
    },
    /// Adding the credit would take the register past its limit.
    #[error("credit overflow: {balance} + {amount} is above the limit {limit} (tenths)")]
    Overflow {
        /// Balance before the token.
        balance: u64,
        /// The token's amount.
        amount: u64,
        /// The register's limit.
        limit: u64,
    },
    /// A class/subclass this meter does not support (another commodity, reserved codes, a 4th
    /// key section on a 64-bit meter).
    #[error("token class {class} subclass {subclass} is not supported by this meter")]
    Unsupported {
        /// The class.
        class: u8,
        /// The subclass.
        subclass: u8,
    },
    /// A class 1 token for another manufacturer.
    #[error("manufacturer code {found} is not this meter's ({expected})")]
    ManufacturerCode {
        /// This meter's code.
        expected: u16,
        /// The token's code.
        found: u16,
    },
}

/// What the meter must do after accepting a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Action {
    /// Credit was added to the register.
    AddCredit {
        /// The commodity.
        kind: CreditKind,
        /// The amount code.
        amount: Amount,
        /// The amount in tenths.
        tenths: u64,
        /// The register after adding.
        balance: u64,
    },
    /// A currency credit (0/4–0/7, layout assumed, see [`CurrencyCredit`](crate::block::CurrencyCredit)):
    /// the unit register is not changed; the firmware credits its money wallet.
    AddCurrency {
        /// The commodity.
        kind: CreditKind,
        /// The amount code, in units of 0.00001 base currency unit.
        amount: Amount,
    },
    /// Start the tests/displays selected by `control` (class 1).
    MeterTest {
        /// Which layout.
        format: MeterTestFormat,
        /// The control bits.
        control: u64,
    },
    /// Set the maximum power limit.
    SetMaxPowerLimit {
        /// The limit in watts.
        watts: u32,
    },
    /// A clear-credit token: `cleared` tells whether this meter's register was cleared
    /// (register 0xFFFF or the commodity's subclass number).
    ClearCredit {
        /// The register named in the token.
        register: u16,
        /// Whether the credit register was set to 0.
        cleared: bool,
    },
    /// Set the tariff rate.
    SetTariffRate {
        /// The rate.
        rate: u16,
    },
    /// Clear the tamper condition.
    ClearTamper,
    /// Set the maximum phase power unbalance limit.
    SetMaxPhasePowerUnbalanceLimit {
        /// The limit in watts.
        watts: u32,
    },
    /// Set the water meter factor.
    SetWaterMeterFactor {
        /// The factor.
        factor: u16,
    },
    /// A key-change section was stored; more are needed.
    KeyChangePending {
        /// Bit `i` set: section `i + 1` received.
        received: u8,
        /// Bit `i` set: section `i + 1` needed.
        needed: u8,
    },
    /// All key-change sections arrived and the new key is installed.
    KeyChanged {
        /// The new key type.
        kt: KeyType,
        /// The new key revision number.
        krn: KeyRevision,
        /// The new key expiry number.
        ken: KeyExpiry,
        /// The new tariff index.
        ti: TariffIndex,
        /// Whether the TID memory was cleared (RO = 1).
        rollover: bool,
        /// The base date now in force.
        base_date: BaseDate,
    },
}

/// An accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Accepted {
    /// The decoded data block.
    pub data: TokenData,
    /// What to do.
    pub action: Action,
}

/// A meter's decoder configuration (what it was manufactured or last key-changed with).
///
/// Not `Copy`: it holds the decoder key, which is zeroized when the configuration is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MeterConfig {
    /// The current decoder key.
    pub key: DecoderKey,
    /// The encryption algorithm.
    pub ea: EncryptionAlgorithm,
    /// Key type.
    pub kt: KeyType,
    /// Key revision number.
    pub krn: KeyRevision,
    /// Key expiry number.
    pub ken: KeyExpiry,
    /// Tariff index.
    pub ti: TariffIndex,
    /// Supply group code.
    pub sgc: SupplyGroupCode,
    /// Base date of the TIDs.
    pub base_date: BaseDate,
    /// The commodity the credit register counts (credit for another commodity is unsupported).
    pub commodity: CreditKind,
    /// This meter's manufacturer code, checked against class 1 tokens (`None`: not checked;
    /// a token code of 0 is accepted by every meter, an **unverified** reading of CTSA02).
    pub manufacturer_code: Option<u16>,
    /// Seconds within which all sections of a key change must arrive.
    pub key_change_timeout: u64,
    /// The credit register's limit, in tenths.
    pub credit_limit: u64,
    /// The largest credit one token may carry, in tenths (above: [`Reject::Range`]).
    pub max_credit_per_token: u64,
}

impl MeterConfig {
    /// A configuration with defaults: KRN 1, KEN 0xFF (never expires), TI 0, SGC 0,
    /// electricity, no manufacturer check, a 300 s key-change timeout, a credit limit of
    /// 10^12 tenths and the largest amount code per token.
    pub fn new(
        key: DecoderKey,
        ea: EncryptionAlgorithm,
        kt: KeyType,
        base_date: BaseDate,
    ) -> MeterConfig {
        MeterConfig {
            key,
            ea,
            kt,
            krn: KeyRevision::FIRST,
            ken: KeyExpiry::NEVER,
            ti: TariffIndex::default(),
            sgc: SupplyGroupCode::default(),
            base_date,
            commodity: CreditKind::Electricity,
            manufacturer_code: None,
            key_change_timeout: 300,
            credit_limit: 1_000_000_000_000,
            max_credit_per_token: MAX_VALUE as u64,
        }
    }

    /// A configuration from the meter's key parameters and decoder key (other fields as in
    /// [`MeterConfig::new`]).
    pub fn from_parameters(key: DecoderKey, params: &KeyParameters) -> MeterConfig {
        MeterConfig {
            krn: params.krn,
            ti: params.ti,
            sgc: params.sgc,
            ..MeterConfig::new(key, params.ea, params.kt, params.base_date)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct PendingKeyChange {
    started: u64,
    first: Option<KeyChange1>,
    second: Option<KeyChange2>,
    third: Option<KeyChange3>,
    fourth: Option<KeyChange4>,
}

impl PendingKeyChange {
    fn is_empty(&self) -> bool {
        self.first.is_none()
            && self.second.is_none()
            && self.third.is_none()
            && self.fourth.is_none()
    }

    fn received(&self) -> u8 {
        u8::from(self.first.is_some())
            | u8::from(self.second.is_some()) << 1
            | u8::from(self.third.is_some()) << 2
            | u8::from(self.fourth.is_some()) << 3
    }
}

/// A meter's token decoder with a TID memory of `N` entries (`N` ≥ 1).
#[derive(Debug, Clone)]
pub struct Meter<'t, const N: usize> {
    config: MeterConfig,
    cipher: TokenCipher<'t>,
    tables: Option<&'t StaTables>,
    tids: [Tid; N],
    tid_count: usize,
    credit: u64,
    pending: PendingKeyChange,
}

impl<'t, const N: usize> Meter<'t, N> {
    /// A meter with an empty TID memory and no credit. EA07 needs `tables`.
    pub fn new(config: MeterConfig, tables: Option<&'t StaTables>) -> Result<Self, KeyError> {
        const { assert!(N > 0, "the TID memory needs at least one entry") };
        let cipher = TokenCipher::new(config.ea, &config.key, tables)?;
        Ok(Meter {
            config,
            cipher,
            tables,
            tids: [Tid::default(); N],
            tid_count: 0,
            credit: 0,
            pending: PendingKeyChange::default(),
        })
    }

    /// The current configuration (key, KT, KRN, KEN, TI, SGC, base date, …).
    pub fn config(&self) -> &MeterConfig {
        &self.config
    }

    /// The cipher of the current key.
    pub fn cipher(&self) -> &TokenCipher<'t> {
        &self.cipher
    }

    /// The credit register, in tenths.
    pub fn credit(&self) -> u64 {
        self.credit
    }

    /// Sets the credit register (restoring persisted state).
    pub fn set_credit(&mut self, tenths: u64) {
        self.credit = tenths;
    }

    /// Deducts consumption from the credit register (saturating at 0); returns the new balance.
    pub fn consume(&mut self, tenths: u64) -> u64 {
        self.credit = self.credit.saturating_sub(tenths);
        self.credit
    }

    /// The TIDs in memory (unordered).
    pub fn tid_memory(&self) -> &[Tid] {
        self.tids.get(..self.tid_count).unwrap_or(&[])
    }

    /// Restores a persisted TID memory: keeps the newest `N` distinct TIDs of `tids`.
    pub fn restore_tid_memory(&mut self, tids: &[Tid]) {
        self.tid_count = 0;
        for &tid in tids {
            if !self.tid_memory().contains(&tid) {
                self.remember(tid);
            }
        }
    }

    /// Fills the whole TID memory with `tid`, so that older tokens are rejected as OLD (the
    /// STS Association pre-fills new meters with TID(2020-01-01 08:00)).
    pub fn prefill_tid_memory(&mut self, tid: Tid) {
        self.tids = [tid; N];
        self.tid_count = N;
    }

    /// Whether a key change is partly entered (and not yet timed out at `now`).
    pub fn key_change_pending(&self, now: u64) -> bool {
        !self.pending.is_empty() && !self.key_change_timed_out(now)
    }

    fn key_change_timed_out(&self, now: u64) -> bool {
        now.saturating_sub(self.pending.started) > self.config.key_change_timeout
    }

    /// Enters a token typed as text (20 digits, optionally grouped).
    pub fn enter_str(&mut self, text: &str, now: u64) -> Result<Accepted, Reject> {
        let token: Token = text.parse()?;
        self.enter(token, now)
    }

    /// Enters a token at time `now` (seconds, any monotonic scale).
    pub fn enter(&mut self, token: Token, now: u64) -> Result<Accepted, Reject> {
        let class = token.class();
        let block = self.cipher.plain_block(token);
        let data = TokenData::parse(class, block).map_err(|e| match e {
            DecodeError::Crc { .. } | DecodeError::NeedsKey { .. } => Reject::Crc,
        })?;
        let action = self.apply(class, &data, now)?;
        Ok(Accepted { data, action })
    }

    fn unsupported(data: &TokenData) -> Reject {
        Reject::Unsupported {
            class: data.class().value(),
            subclass: data.subclass(),
        }
    }

    fn apply(&mut self, class: TokenClass, data: &TokenData, now: u64) -> Result<Action, Reject> {
        match *data {
            TokenData::MeterTest(t) => {
                if let Some(expected) = self.config.manufacturer_code
                    && t.manufacturer_code != expected
                    && t.manufacturer_code != 0
                {
                    return Err(Reject::ManufacturerCode {
                        expected,
                        found: t.manufacturer_code,
                    });
                }
                Ok(Action::MeterTest {
                    format: t.format,
                    control: t.control,
                })
            }
            TokenData::Credit(c) => {
                if c.kind != self.config.commodity {
                    return Err(Self::unsupported(data));
                }
                if self.config.kt == KeyType::Default {
                    return Err(Reject::KeyTypeNotAllowed { kt: self.config.kt });
                }
                self.check_tid(c.tid)?;
                let tenths = u64::from(c.amount.value());
                if tenths > self.config.max_credit_per_token {
                    return Err(Reject::Range {
                        what: "credit amount above the per-token maximum",
                    });
                }
                let balance = self
                    .credit
                    .checked_add(tenths)
                    .filter(|b| *b <= self.config.credit_limit)
                    .ok_or(Reject::Overflow {
                        balance: self.credit,
                        amount: tenths,
                        limit: self.config.credit_limit,
                    })?;
                self.remember(c.tid);
                self.credit = balance;
                Ok(Action::AddCredit {
                    kind: c.kind,
                    amount: c.amount,
                    tenths,
                    balance,
                })
            }
            TokenData::Currency(c) => {
                if c.kind != self.config.commodity {
                    return Err(Self::unsupported(data));
                }
                if self.config.kt == KeyType::Default {
                    return Err(Reject::KeyTypeNotAllowed { kt: self.config.kt });
                }
                self.accept_tid(c.tid)?;
                Ok(Action::AddCurrency {
                    kind: c.kind,
                    amount: c.amount,
                })
            }
            TokenData::MaxPowerLimit(m) => {
                self.accept_tid(m.tid)?;
                Ok(Action::SetMaxPowerLimit {
                    watts: m.limit.value(),
                })
            }
            TokenData::ClearCredit(m) => {
                self.accept_tid(m.tid)?;
                let cleared =
                    m.register == 0xFFFF || m.register == u16::from(self.config.commodity.index());
                if cleared {
                    self.credit = 0;
                }
                Ok(Action::ClearCredit {
                    register: m.register,
                    cleared,
                })
            }
            TokenData::TariffRate(m) => {
                self.accept_tid(m.tid)?;
                Ok(Action::SetTariffRate { rate: m.rate })
            }
            TokenData::ClearTamper(m) => {
                self.accept_tid(m.tid)?;
                Ok(Action::ClearTamper)
            }
            TokenData::MaxPhasePowerUnbalanceLimit(m) => {
                self.accept_tid(m.tid)?;
                Ok(Action::SetMaxPhasePowerUnbalanceLimit {
                    watts: m.limit.value(),
                })
            }
            TokenData::WaterMeterFactor(m) => {
                self.accept_tid(m.tid)?;
                Ok(Action::SetWaterMeterFactor { factor: m.factor })
            }
            TokenData::KeyChange1(_)
            | TokenData::KeyChange2(_)
            | TokenData::KeyChange3(_)
            | TokenData::KeyChange4(_) => self.key_change(class, data, now),
            TokenData::Reserved(_) => Err(Self::unsupported(data)),
        }
    }

    /// Key expiry, USED and OLD checks for a TID-bearing token (nothing is stored).
    fn check_tid(&self, tid: Tid) -> Result<(), Reject> {
        if self.config.ken.is_expired(tid) {
            return Err(Reject::KeyExpired {
                tid,
                ken: self.config.ken.0,
            });
        }
        let memory = self.tid_memory();
        if memory.contains(&tid) {
            return Err(Reject::Used { tid });
        }
        if memory.len() >= N
            && let Some(&oldest) = memory.iter().min()
            && tid < oldest
        {
            return Err(Reject::Old { tid, oldest });
        }
        Ok(())
    }

    fn accept_tid(&mut self, tid: Tid) -> Result<(), Reject> {
        self.check_tid(tid)?;
        self.remember(tid);
        Ok(())
    }

    /// Stores a TID, evicting the oldest when the memory is full.
    fn remember(&mut self, tid: Tid) {
        if self.tid_count < N {
            if let Some(slot) = self.tids.get_mut(self.tid_count) {
                *slot = tid;
                self.tid_count += 1;
            }
            return;
        }
        if let Some(oldest) = self.tids.iter_mut().min()
            && *oldest < tid
        {
            *oldest = tid;
        }
    }

    fn key_change(
        &mut self,
        class: TokenClass,
        data: &TokenData,
        now: u64,
    ) -> Result<Action, Reject> {
        let wide = self.config.ea.key_bits() == 128;
        if matches!(data, TokenData::KeyChange4(_)) && !wide {
            return Err(Reject::Unsupported {
                class: class.value(),
                subclass: data.subclass(),
            });
        }
        if self.pending.is_empty() || self.key_change_timed_out(now) {
            self.pending = PendingKeyChange {
                started: now,
                ..PendingKeyChange::default()
            };
        }
        match data {
            TokenData::KeyChange1(k) => self.pending.first = Some(k.clone()),
            TokenData::KeyChange2(k) => self.pending.second = Some(k.clone()),
            TokenData::KeyChange3(k) => self.pending.third = Some(k.clone()),
            TokenData::KeyChange4(k) => self.pending.fourth = Some(k.clone()),
            _ => {}
        }
        let needs_third = wide || self.pending.first.as_ref().is_some_and(|f| f.third_section);
        let needed = 0b11 | if needs_third { 0b100 } else { 0 } | if wide { 0b1000 } else { 0 };
        let received = self.pending.received();
        if received & needed != needed {
            return Ok(Action::KeyChangePending { received, needed });
        }
        let pending = core::mem::take(&mut self.pending);
        let (Some(first), Some(second)) = (&pending.first, &pending.second) else {
            return Ok(Action::KeyChangePending { received, needed });
        };
        self.install(
            first,
            second,
            pending.third.as_ref(),
            pending.fourth.as_ref(),
            wide,
        )
    }

    fn install(
        &mut self,
        first: &KeyChange1,
        second: &KeyChange2,
        third: Option<&KeyChange3>,
        fourth: Option<&KeyChange4>,
        wide: bool,
    ) -> Result<Action, Reject> {
        let krn = KeyRevision::new(first.krn).map_err(|_| Reject::Range {
            what: "key revision number 0",
        })?;
        let ti = TariffIndex::new(second.ti).map_err(|_| Reject::Range {
            what: "tariff index above 99",
        })?;
        let ken = KeyExpiry::from_nibbles(first.ken_high, second.ken_low);
        let (key, sgc) = if wide {
            let (Some(third), Some(fourth)) = (third, fourth) else {
                return Err(Reject::Range {
                    what: "missing key sections",
                });
            };
            let key = u128::from(first.key_bits.bits()) << 96
                | u128::from(third.key_bits.bits()) << 64
                | u128::from(fourth.key_bits.bits()) << 32
                | u128::from(second.key_bits.bits());
            let sgc = u32::from(fourth.sgc_bits) << 12 | u32::from(third.sgc_bits);
            (DecoderKey::Bits128(key), Some(sgc))
        } else {
            let key = u64::from(first.key_bits.bits()) << 32 | u64::from(second.key_bits.bits());
            let sgc = if first.third_section {
                third.and_then(|t| t.sgc_3kct())
            } else {
                None
            };
            (DecoderKey::Bits64(key), sgc)
        };
        let sgc = match sgc {
            Some(v) => Some(SupplyGroupCode::new(v).map_err(|_| Reject::Range {
                what: "supply group code above 999999",
            })?),
            None => None,
        };
        let cipher =
            TokenCipher::new(self.config.ea, &key, self.tables).map_err(|_| Reject::Range {
                what: "new key does not suit the algorithm",
            })?;
        self.cipher = cipher;
        self.config.key = key;
        self.config.kt = first.kt;
        self.config.krn = krn;
        self.config.ken = ken;
        self.config.ti = ti;
        if let Some(sgc) = sgc {
            self.config.sgc = sgc;
        }
        if first.rollover {
            self.tid_count = 0;
            if let Some(next) = self.config.base_date.next() {
                self.config.base_date = next;
            }
        }
        Ok(Action::KeyChanged {
            kt: first.kt,
            krn,
            ken,
            ti,
            rollover: first.rollover,
            base_date: self.config.base_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Rnd;
    use crate::cipher::SAMPLE_TABLES;
    use crate::vend::{Issue, Management, NewKey, Vendor};

    const KEY: u64 = 0x0ABC_12DE_F345_6789;

    fn meter<const N: usize>(kt: KeyType) -> Meter<'static, N> {
        let config = MeterConfig::new(
            DecoderKey::Bits64(KEY),
            EncryptionAlgorithm::Sta,
            kt,
            BaseDate::Y1993,
        );
        Meter::new(config, Some(&SAMPLE_TABLES)).unwrap()
    }

    fn vendor(key: u64) -> Vendor<'static> {
        Vendor::new(
            TokenCipher::Sta(crate::cipher::Sta::new(key, &SAMPLE_TABLES)),
            KeyType::Unique,
            BaseDate::Y1993,
        )
    }

    fn credit(v: &Vendor<'_>, tid: u32, tenths: u64) -> Token {
        v.credit(
            CreditKind::Electricity,
            tenths,
            Issue::Tid(Tid::new(tid).unwrap()),
            Rnd::new(3).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn credit_used_old() {
        let mut m: Meter<'_, 3> = meter(KeyType::Unique);
        let v = vendor(KEY);
        for (i, tid) in [100, 200, 300].into_iter().enumerate() {
            let a = m.enter(credit(&v, tid, 10), 0).unwrap();
            assert_eq!(
                a.action,
                Action::AddCredit {
                    kind: CreditKind::Electricity,
                    amount: Amount::from_raw(10),
                    tenths: 10,
                    balance: 10 * (i as u64 + 1)
                }
            );
        }
        let t = Tid::new(200).unwrap();
        assert_eq!(
            m.enter(credit(&v, 200, 10), 0).unwrap_err(),
            Reject::Used { tid: t }
        );
        // Memory full: older than the oldest (100) is OLD; 150 is newer, evicts 100.
        assert_eq!(
            m.enter(credit(&v, 50, 10), 0).unwrap_err(),
            Reject::Old {
                tid: Tid::new(50).unwrap(),
                oldest: Tid::new(100).unwrap()
            }
        );
        assert!(m.enter(credit(&v, 150, 10), 0).is_ok());
        assert!(!m.tid_memory().contains(&Tid::new(100).unwrap()));
        assert!(matches!(
            m.enter(credit(&v, 100, 10), 0),
            Err(Reject::Old { .. })
        ));
        assert_eq!(m.credit(), 40);
    }

    #[test]
    fn rejects_wrong_key_and_format() {
        let mut m: Meter<'_, 4> = meter(KeyType::Unique);
        assert_eq!(
            m.enter(credit(&vendor(KEY ^ 1), 100, 10), 0),
            Err(Reject::Crc)
        );
        assert_eq!(
            m.enter_str("1234", 0),
            Err(Reject::Format(TokenError::Length(4)))
        );
        assert_eq!(
            m.enter_str("73786976294838206464", 0),
            Err(Reject::Format(TokenError::TooLarge))
        );
    }

    #[test]
    fn default_key_gets_no_credit() {
        let mut m: Meter<'_, 4> = meter(KeyType::Default);
        let v = vendor(KEY);
        assert_eq!(
            m.enter(credit(&v, 100, 10), 0),
            Err(Reject::KeyTypeNotAllowed {
                kt: KeyType::Default
            })
        );
        let t = v
            .management(
                Management::MaxPowerLimit { watts: 1000 },
                Issue::Tid(Tid::new(100).unwrap()),
                Rnd::default(),
            )
            .unwrap();
        assert_eq!(
            m.enter(t, 0).unwrap().action,
            Action::SetMaxPowerLimit { watts: 1000 }
        );
    }

    #[test]
    fn key_expiry() {
        let mut m: Meter<'_, 4> = meter(KeyType::Unique);
        m.config.ken = KeyExpiry(0x05);
        let v = vendor(KEY);
        assert!(m.enter(credit(&v, 0x05_FFFF, 10), 0).is_ok());
        assert_eq!(
            m.enter(credit(&v, 0x06_0000, 10), 0),
            Err(Reject::KeyExpired {
                tid: Tid::new(0x06_0000).unwrap(),
                ken: 5
            })
        );
    }

    #[test]
    fn overflow_and_range() {
        let mut m: Meter<'_, 4> = meter(KeyType::Unique);
        m.config.credit_limit = 25;
        m.config.max_credit_per_token = 20;
        let v = vendor(KEY);
        assert!(m.enter(credit(&v, 100, 20), 0).is_ok());
        assert_eq!(
            m.enter(credit(&v, 101, 10), 0),
            Err(Reject::Overflow {
                balance: 20,
                amount: 10,
                limit: 25
            })
        );
        assert!(matches!(
            m.enter(credit(&v, 102, 30), 0),
            Err(Reject::Range { .. })
        ));
        // Rejected tokens leave no TID behind.
        assert!(m.enter(credit(&v, 101, 5), 0).is_ok());
    }

    #[test]
    fn key_change_with_rollover() {
        let mut m: Meter<'_, 4> = meter(KeyType::Unique);
        let old = vendor(KEY);
        m.enter(credit(&old, 100, 10), 0).unwrap();
        let new_key = 0x1122_3344_5566_7788;
        let set = old
            .key_change(&NewKey {
                key: DecoderKey::Bits64(new_key),
                kt: KeyType::Unique,
                krn: KeyRevision::new(2).unwrap(),
                ken: KeyExpiry::NEVER,
                ti: TariffIndex::new(7).unwrap(),
                rollover: true,
                sgc: None,
            })
            .unwrap();
        let tokens = &set[..];
        // Second section first (any order), then the first: installed.
        assert_eq!(
            m.enter(tokens[1], 10).unwrap().action,
            Action::KeyChangePending {
                received: 0b10,
                needed: 0b11
            }
        );
        assert!(m.key_change_pending(10));
        let done = m.enter(tokens[0], 20).unwrap().action;
        assert_eq!(
            done,
            Action::KeyChanged {
                kt: KeyType::Unique,
                krn: KeyRevision::new(2).unwrap(),
                ken: KeyExpiry::NEVER,
                ti: TariffIndex::new(7).unwrap(),
                rollover: true,
                base_date: BaseDate::Y2014
            }
        );
        assert!(m.tid_memory().is_empty());
        assert_eq!(m.credit(), 10);
        // Old-key tokens no longer authenticate; new-key tokens do.
        assert_eq!(m.enter(credit(&old, 300, 10), 30), Err(Reject::Crc));
        assert!(m.enter(credit(&vendor(new_key), 100, 10), 30).is_ok());
    }

    #[test]
    fn key_change_timeout() {
        let mut m: Meter<'_, 4> = meter(KeyType::Unique);
        let set = vendor(KEY)
            .key_change(&NewKey {
                key: DecoderKey::Bits64(1),
                kt: KeyType::Unique,
                krn: KeyRevision::new(2).unwrap(),
                ken: KeyExpiry::NEVER,
                ti: TariffIndex::new(1).unwrap(),
                rollover: false,
                sgc: None,
            })
            .unwrap();
        m.enter(set[0], 0).unwrap();
        // 301 s later the first section has expired: the second starts a new set.
        assert_eq!(
            m.enter(set[1], 301).unwrap().action,
            Action::KeyChangePending {
                received: 0b10,
                needed: 0b11
            }
        );
        assert_eq!(m.config().key, DecoderKey::Bits64(KEY));
    }

    #[test]
    fn prefill() {
        let mut m: Meter<'_, 4> = meter(KeyType::Unique);
        m.prefill_tid_memory(Tid::new(14_200_320).unwrap());
        let v = vendor(KEY);
        assert!(matches!(
            m.enter(credit(&v, 14_000_000, 10), 0),
            Err(Reject::Old { .. })
        ));
        assert!(m.enter(credit(&v, 14_200_321, 10), 0).is_ok());
    }
}
