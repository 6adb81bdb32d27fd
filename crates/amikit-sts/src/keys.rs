//! Key parameters: key type, supply group code, tariff index, key revision and expiry numbers,
//! the encryption algorithm and the decoder key itself.

use core::fmt;
use core::str::FromStr;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::KeyError;
use crate::pan::MeterPan;
use crate::tid::BaseDate;

/// Key type (KT, 2 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum KeyType {
    /// 0: DITK, initialisation key.
    Initialisation,
    /// 1: DDTK, default key. A meter on it receives no credit (STS 531 CTSA16).
    Default,
    /// 2: DUTK, unique key.
    Unique,
    /// 3: DCTK, common key.
    Common,
}

impl KeyType {
    /// The key type of these two bits (upper bits ignored).
    pub const fn from_bits(bits: u8) -> KeyType {
        match bits & 0b11 {
            0 => KeyType::Initialisation,
            1 => KeyType::Default,
            2 => KeyType::Unique,
            _ => KeyType::Common,
        }
    }

    /// The key type numbered 0–3.
    pub(crate) const fn new(value: u8) -> Result<KeyType, KeyError> {
        if value > 3 {
            Err(KeyError::KeyType(value))
        } else {
            Ok(KeyType::from_bits(value))
        }
    }

    /// 0–3.
    pub(crate) const fn value(self) -> u8 {
        match self {
            KeyType::Initialisation => 0,
            KeyType::Default => 1,
            KeyType::Unique => 2,
            KeyType::Common => 3,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value())
    }
}

/// Supply group code (SGC): 6 decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SupplyGroupCode(u32);

impl SupplyGroupCode {
    /// The SGC 0–999999.
    pub(crate) const fn new(value: u32) -> Result<SupplyGroupCode, KeyError> {
        if value > 999_999 {
            Err(KeyError::SupplyGroupCode(value))
        } else {
            Ok(SupplyGroupCode(value))
        }
    }

    /// The value (0–999999).
    pub(crate) const fn value(self) -> u32 {
        self.0
    }

    /// The 6 ASCII digits, zero padded.
    pub(crate) fn to_ascii(self) -> [u8; 6] {
        let mut out = [b'0'; 6];
        let mut v = self.0;
        for d in out.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        out
    }

    /// The 6 digits as BCD nibbles (for the DKGA02 control block).
    pub(crate) const fn to_bcd(self) -> u32 {
        let mut out = 0u32;
        let mut v = self.0;
        let mut shift = 0;
        while shift < 24 {
            out |= (v % 10) << shift;
            v /= 10;
            shift += 4;
        }
        out
    }
}

impl FromStr for SupplyGroupCode {
    type Err = KeyError;

    /// Parses exactly 6 decimal digits.
    fn from_str(s: &str) -> Result<SupplyGroupCode, KeyError> {
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KeyError::SupplyGroupCode(s.parse().unwrap_or(u32::MAX)));
        }
        SupplyGroupCode::new(s.parse().map_err(|_| KeyError::SupplyGroupCode(u32::MAX))?)
    }
}

impl fmt::Display for SupplyGroupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// Tariff index (TI): 2 decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TariffIndex(u8);

impl TariffIndex {
    /// The TI 0–99.
    pub(crate) const fn new(value: u8) -> Result<TariffIndex, KeyError> {
        if value > 99 {
            Err(KeyError::TariffIndex(value))
        } else {
            Ok(TariffIndex(value))
        }
    }

    /// The value (0–99).
    pub(crate) const fn value(self) -> u8 {
        self.0
    }

    /// The 2 ASCII digits.
    pub(crate) const fn to_ascii(self) -> [u8; 2] {
        [b'0' + self.0 / 10, b'0' + self.0 % 10]
    }
}

impl fmt::Display for TariffIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// Key revision number (KRN): one hex digit, 1–15 (the standard assigns 1–9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyRevision(u8);

impl KeyRevision {
    /// KRN 1, the first revision.
    pub const FIRST: KeyRevision = KeyRevision(1);

    /// The KRN 1–15.
    pub(crate) const fn new(value: u8) -> Result<KeyRevision, KeyError> {
        if value == 0 || value > 15 {
            Err(KeyError::KeyRevision(value))
        } else {
            Ok(KeyRevision(value))
        }
    }

    /// The value (1–15).
    pub(crate) const fn value(self) -> u8 {
        self.0
    }

    /// The upper-case hex digit (DKGA04).
    pub(crate) const fn to_ascii(self) -> u8 {
        hex_digit(self.0)
    }
}

impl fmt::Display for KeyRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

const fn hex_digit(v: u8) -> u8 {
    let v = v & 0xF;
    if v < 10 { b'0' + v } else { b'A' + v - 10 }
}

/// Key expiry number (KEN): the meter rejects a token whose `TID >> 16` exceeds it;
/// 0xFF disables the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyExpiry(pub u8);

impl KeyExpiry {
    /// KEN = 0xFF: the key never expires.
    pub const NEVER: KeyExpiry = KeyExpiry(0xFF);

    /// The KEN from its two nibbles (KENHO from the first key-change section, KENLO from the
    /// second).
    pub(crate) const fn from_nibbles(high: u8, low: u8) -> KeyExpiry {
        KeyExpiry((high & 0xF) << 4 | (low & 0xF))
    }

    /// Whether a token with this TID is expired (`TID >> 16 > KEN`, unless KEN is 0xFF).
    pub(crate) const fn is_expired(self, tid: crate::tid::Tid) -> bool {
        self.0 != 0xFF && tid.expiry_byte() > self.0
    }
}

impl Default for KeyExpiry {
    fn default() -> Self {
        KeyExpiry::NEVER
    }
}

/// The token encryption algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EncryptionAlgorithm {
    /// EA07: the Standard Transfer Algorithm (64-bit key, user-supplied tables).
    Sta,
    /// EA09: single DES (64-bit key); withdrawn in IEC 62055-41:2018.
    Des,
    /// EA11: MISTY1 (128-bit key).
    Misty1,
}

impl EncryptionAlgorithm {
    /// The algorithm with this code (7, 9 or 11).
    pub(crate) const fn from_code(code: u8) -> Result<EncryptionAlgorithm, KeyError> {
        match code {
            7 => Ok(EncryptionAlgorithm::Sta),
            9 => Ok(EncryptionAlgorithm::Des),
            11 => Ok(EncryptionAlgorithm::Misty1),
            other => Err(KeyError::Algorithm(other)),
        }
    }

    /// The code (7, 9, 11).
    pub(crate) const fn code(self) -> u8 {
        match self {
            EncryptionAlgorithm::Sta => 7,
            EncryptionAlgorithm::Des => 9,
            EncryptionAlgorithm::Misty1 => 11,
        }
    }

    /// The decoder key length in bits (64 or 128).
    pub const fn key_bits(self) -> u16 {
        match self {
            EncryptionAlgorithm::Sta | EncryptionAlgorithm::Des => 64,
            EncryptionAlgorithm::Misty1 => 128,
        }
    }
}

impl fmt::Display for EncryptionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EA{:02}", self.code())
    }
}

/// A decoder key (DK), big-endian: 64-bit for EA07/EA09, 128-bit for EA11.
///
/// For DKGA02 the 64-bit value is the DES output order; bit `i` of the STA key is
/// `(key >> i) & 1`. (NectarAPI prints 64-bit keys byte-reversed; this crate never does.)
///
/// A secret: `Debug` shows only its length, there is no `Display` (nor hex formatting),
/// equality is compared in constant time, and the value is zeroized when dropped (so the type
/// is not `Copy`; clone it explicitly). [`DecoderKey::to_bytes`] is the one way out.
///
/// ```compile_fail
/// let key = amikit_sts::DecoderKey::from_bytes(&[0xAB; 8]).unwrap();
/// let _ = format!("{key}"); // keys have no Display
/// ```
#[derive(Clone, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum DecoderKey {
    /// A 64-bit key (EA07, EA09).
    Bits64(u64),
    /// A 128-bit key (EA11).
    Bits128(u128),
}

impl DecoderKey {
    /// The key from 8 or 16 big-endian bytes.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<DecoderKey, KeyError> {
        if let Ok(b) = <[u8; 8]>::try_from(bytes) {
            let b = Zeroizing::new(b);
            Ok(DecoderKey::Bits64(u64::from_be_bytes(*b)))
        } else if let Ok(b) = <[u8; 16]>::try_from(bytes) {
            let b = Zeroizing::new(b);
            Ok(DecoderKey::Bits128(u128::from_be_bytes(*b)))
        } else {
            Err(KeyError::Length {
                what: "a decoder key",
                expected: 8,
                got: bytes.len(),
            })
        }
    }

    /// Key length in bits.
    pub const fn bits(&self) -> u16 {
        match self {
            DecoderKey::Bits64(_) => 64,
            DecoderKey::Bits128(_) => 128,
        }
    }

    /// Writes the big-endian bytes into `out` and returns the used part (8 or 16 bytes).
    pub fn to_bytes<'a>(&self, out: &'a mut [u8; 16]) -> &'a [u8] {
        match self {
            DecoderKey::Bits64(k) => {
                let (head, _) = out.split_at_mut(8);
                head.copy_from_slice(&k.to_be_bytes());
                head
            }
            DecoderKey::Bits128(k) => {
                *out = k.to_be_bytes();
                out
            }
        }
    }
}

impl PartialEq for DecoderKey {
    /// Constant time in the key's value (the lengths are public).
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (DecoderKey::Bits64(a), DecoderKey::Bits64(b)) => a.ct_eq(b).into(),
            (DecoderKey::Bits128(a), DecoderKey::Bits128(b)) => {
                let high = ((a >> 64) as u64).ct_eq(&((b >> 64) as u64));
                (high & (*a as u64).ct_eq(&(*b as u64))).into()
            }
            _ => false,
        }
    }
}

impl Zeroize for DecoderKey {
    fn zeroize(&mut self) {
        match self {
            DecoderKey::Bits64(k) => k.zeroize(),
            DecoderKey::Bits128(k) => k.zeroize(),
        }
    }
}

impl Drop for DecoderKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for DecoderKey {}

impl fmt::Debug for DecoderKey {
    /// Keys are secrets: `Debug` shows only the length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecoderKey({} bits, ****)", self.bits())
    }
}

/// 32 bits of a new decoder key, as one key-change token section carries them (IEC 62055-41
/// class 2, subclasses 3, 4, 8 and 9: "Set 1st/2nd/3rd/4th section decoder key").
///
/// A secret like [`DecoderKey`]: `Debug` is redacted, no `Display`, constant-time equality,
/// zeroized when dropped; `u32::from(&section)` is the one way out.
#[derive(Clone, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct KeySection(u32);

impl KeySection {
    /// The section's 32 key bits.
    pub(crate) const fn new(bits: u32) -> KeySection {
        KeySection(bits)
    }

    /// The 32 key bits.
    pub(crate) const fn bits(&self) -> u32 {
        self.0
    }
}

impl PartialEq for KeySection {
    /// Constant time.
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Zeroize for KeySection {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for KeySection {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for KeySection {}

impl fmt::Debug for KeySection {
    /// Key bits are secrets: `Debug` shows none of them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeySection(****)")
    }
}

/// Everything that identifies a meter's decoder key apart from the vending key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyParameters {
    /// The meter's PAN.
    pub pan: MeterPan,
    /// Supply group code.
    pub sgc: SupplyGroupCode,
    /// Tariff index.
    pub ti: TariffIndex,
    /// Key revision number.
    pub krn: KeyRevision,
    /// Key type.
    pub kt: KeyType,
    /// Base date of the TID (bound into the key by DKGA04; meter configuration for DKGA02).
    pub base_date: BaseDate,
    /// The encryption algorithm the key is for.
    pub ea: EncryptionAlgorithm,
}

impl TryFrom<u8> for KeyType {
    type Error = KeyError;

    /// The key type numbered 0–3.
    fn try_from(value: u8) -> Result<Self, KeyError> {
        Self::new(value)
    }
}

impl From<KeyType> for u8 {
    /// The value of a [`KeyType`].
    fn from(value: KeyType) -> Self {
        value.value()
    }
}

impl TryFrom<u32> for SupplyGroupCode {
    type Error = KeyError;

    /// The SGC 0–999999.
    fn try_from(value: u32) -> Result<Self, KeyError> {
        Self::new(value)
    }
}

impl From<SupplyGroupCode> for u32 {
    /// The value of a [`SupplyGroupCode`].
    fn from(value: SupplyGroupCode) -> Self {
        value.value()
    }
}

impl TryFrom<u8> for TariffIndex {
    type Error = KeyError;

    /// The tariff index 0–99.
    fn try_from(value: u8) -> Result<Self, KeyError> {
        Self::new(value)
    }
}

impl From<TariffIndex> for u8 {
    /// The value of a [`TariffIndex`].
    fn from(value: TariffIndex) -> Self {
        value.value()
    }
}

impl TryFrom<u8> for KeyRevision {
    type Error = KeyError;

    /// The key revision number 1–9 … (see the type).
    fn try_from(value: u8) -> Result<Self, KeyError> {
        Self::new(value)
    }
}

impl From<KeyRevision> for u8 {
    /// The value of a [`KeyRevision`].
    fn from(value: KeyRevision) -> Self {
        value.value()
    }
}

impl TryFrom<u8> for EncryptionAlgorithm {
    type Error = KeyError;

    /// The algorithm of an EA code (07, 09, 11).
    fn try_from(value: u8) -> Result<Self, KeyError> {
        Self::from_code(value)
    }
}

impl From<EncryptionAlgorithm> for u8 {
    /// The value of a [`EncryptionAlgorithm`].
    fn from(value: EncryptionAlgorithm) -> Self {
        value.code()
    }
}

impl From<u32> for KeySection {
    /// A 32-bit key section.
    fn from(value: u32) -> Self {
        Self::new(value)
    }
}

impl From<&KeySection> for u32 {
    /// The 32 key bits of a [`KeySection`].
    fn from(value: &KeySection) -> Self {
        value.bits()
    }
}

impl TryFrom<&[u8]> for DecoderKey {
    type Error = KeyError;

    /// A 64-bit (8 bytes) or 128-bit (16 bytes) key.
    fn try_from(bytes: &[u8]) -> Result<Self, KeyError> {
        Self::from_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversions_check_ranges_and_round_trip() {
        assert_eq!(
            u32::from(SupplyGroupCode::try_from(123_456).unwrap()),
            123_456
        );
        assert_eq!(
            SupplyGroupCode::try_from(1_000_000),
            Err(KeyError::SupplyGroupCode(1_000_000))
        );
        assert_eq!(u8::from(KeyType::try_from(3).unwrap()), 3);
        assert_eq!(KeyType::try_from(4), Err(KeyError::KeyType(4)));
        assert_eq!(u8::from(TariffIndex::try_from(99).unwrap()), 99);
        assert!(TariffIndex::try_from(100).is_err());
        assert!(KeyRevision::try_from(0).is_err() || KeyRevision::try_from(16).is_err());
        for ea in [
            EncryptionAlgorithm::Sta,
            EncryptionAlgorithm::Des,
            EncryptionAlgorithm::Misty1,
        ] {
            assert_eq!(EncryptionAlgorithm::try_from(u8::from(ea)), Ok(ea));
        }
        assert!(EncryptionAlgorithm::try_from(8).is_err());
        assert_eq!(u32::from(&KeySection::from(0xDEAD_BEEF)), 0xDEAD_BEEF);
        assert!(DecoderKey::try_from(&[0u8; 9][..]).is_err());
        assert_eq!(
            DecoderKey::try_from(&[0u8; 8][..]).map(|k| k.bits()),
            Ok(64)
        );
    }

    #[test]
    fn ranges() {
        assert!(SupplyGroupCode::new(999_999).is_ok());
        assert_eq!(
            SupplyGroupCode::new(1_000_000),
            Err(KeyError::SupplyGroupCode(1_000_000))
        );
        assert_eq!(SupplyGroupCode::new(46).unwrap().to_ascii(), *b"000046");
        assert_eq!(SupplyGroupCode::new(123_456).unwrap().to_bcd(), 0x12_3456);
        assert_eq!("000046".parse::<SupplyGroupCode>().unwrap().value(), 46);
        assert!("46".parse::<SupplyGroupCode>().is_err());
        assert!("1234567".parse::<SupplyGroupCode>().is_err());
        assert_eq!(TariffIndex::new(100), Err(KeyError::TariffIndex(100)));
        assert_eq!(TariffIndex::new(1).unwrap().to_ascii(), *b"01");
        assert_eq!(KeyRevision::new(0), Err(KeyError::KeyRevision(0)));
        assert_eq!(KeyRevision::new(12).unwrap().to_ascii(), b'C');
        assert_eq!(KeyType::new(4), Err(KeyError::KeyType(4)));
        assert_eq!(
            EncryptionAlgorithm::from_code(8),
            Err(KeyError::Algorithm(8))
        );
    }

    #[test]
    fn key_expiry() {
        let tid = crate::tid::Tid::new(0x05_FFFF).unwrap();
        assert!(!KeyExpiry(5).is_expired(tid));
        assert!(KeyExpiry(4).is_expired(tid));
        assert!(!KeyExpiry::NEVER.is_expired(crate::tid::Tid::new(0xFF_FFFF).unwrap()));
        assert_eq!(KeyExpiry::from_nibbles(0xA, 0x5), KeyExpiry(0xA5));
    }

    #[test]
    fn decoder_key_bytes() {
        let key =
            DecoderKey::from_bytes(&[0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]).unwrap();
        assert_eq!(key, DecoderKey::Bits64(0xE653_341F_9D5B_F36F));
        assert_ne!(key, DecoderKey::Bits64(0xE653_341F_9D5B_F36E));
        assert_ne!(key, DecoderKey::Bits128(0xE653_341F_9D5B_F36F));
        assert_eq!(std::format!("{key:?}"), "DecoderKey(64 bits, ****)");
        let mut buf = [0u8; 16];
        assert_eq!(key.to_bytes(&mut buf).len(), 8);
        assert!(DecoderKey::from_bytes(&[0; 9]).is_err());
    }
}
