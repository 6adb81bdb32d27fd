//! Decoder key generation: DKGA02 (DES) and DKGA04 (HMAC-SHA-256).
//!
//! **DKGA02** (64-bit keys, for EA07/EA09):
//! 1. PAN block = 16 BCD digits IIN[-5:] ‖ DRN[-11:] (e.g. `0072700000000000`);
//! 2. control block = `KT ‖ SGC (6 BCD) ‖ TI (2 BCD) ‖ KRN ‖ FFFFFF` (e.g. `2123456011FFFFFF`);
//! 3. `D = PAN block ⊕ control block`;
//! 4. `DK = DES_VK(D) ⊕ D ⊕ VK` (single DES, one block; parity bits ignored).
//!
//! The key is used big-endian (DES output order). For KT = 3 (common key) NectarAPI replaces the
//! DRN by zeros in the PAN block; this crate does the same, but that case is **unverified** (no
//! vector has KT = 3).
//!
//! **DKGA04** (64-bit keys for EA07, 128-bit for EA11): `DK` = the leftmost 64 or 128 bits of
//! HMAC-SHA-256 keyed with the 20-byte vending key over the 49-byte message built by
//! [`dkga04_message`] (label fields DKGA, base date, EA, TI; context fields SGC, KT, KRN, PAN;
//! the output length in bits). The base date enters the key here.
//!
//! Both were checked against every STS 531 derivation (7 DKGA02, 16 DKGA04). DKGA01 and DKGA03
//! are not implemented: no vectors exist to verify them.
//!
//! [`Dkga02`] and [`Dkga04`] hold the vending key's prepared state (the DES key schedule; the
//! HMAC inner and outer hash states), so deriving many keys from one vending key is cheap.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::cipher::{BlockCipher64, Des};
use crate::error::KeyError;
use crate::keys::{DecoderKey, EncryptionAlgorithm, KeyParameters, KeyType};

/// A decoder key generation algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Dkga {
    /// DKGA02: DES, 8-byte vending key, 64-bit decoder keys.
    Dkga02,
    /// DKGA04: HMAC-SHA-256, 20-byte vending key, 64- or 128-bit decoder keys.
    Dkga04,
}

impl Dkga {
    /// The algorithm with this number (2 or 4).
    pub(crate) const fn from_number(number: u8) -> Result<Dkga, KeyError> {
        match number {
            2 => Ok(Dkga::Dkga02),
            4 => Ok(Dkga::Dkga04),
            _ => Err(KeyError::Unsupported {
                dkga: number,
                ea: 0,
            }),
        }
    }

    /// The number (2 or 4).
    pub(crate) const fn number(self) -> u8 {
        match self {
            Dkga::Dkga02 => 2,
            Dkga::Dkga04 => 4,
        }
    }
}

/// The DKGA02 PAN block (16 BCD digits, IIN[-5:] ‖ DRN[-11:]; the DRN is zeroed for KT = 3).
pub fn pan_block(params: &KeyParameters) -> u64 {
    let block = params.pan.pan_block();
    if params.kt == KeyType::Common {
        // Keep the 5 IIN digits (top 20 bits), zero the 11 DRN digits (unverified, see above).
        block & !((1u64 << 44) - 1)
    } else {
        block
    }
}

/// The DKGA02 control block `KT ‖ SGC ‖ TI ‖ KRN ‖ FFFFFF` (16 hex nibbles).
pub fn control_block(params: &KeyParameters) -> u64 {
    let ti = params.ti.value();
    let ti_bcd = u64::from((ti / 10) << 4 | (ti % 10));
    (u64::from(params.kt.value()) << 60)
        | (u64::from(params.sgc.to_bcd()) << 36)
        | (ti_bcd << 28)
        | (u64::from(params.krn.value()) << 24)
        | 0xFF_FFFF
}

/// DKGA02 with a prepared vending key. A secret: `Debug` is redacted, no `Display`, the key and
/// its DES key schedule are zeroized when dropped.
#[derive(Clone)]
pub struct Dkga02 {
    des: Des,
    vending_key: u64,
}

impl Dkga02 {
    /// Prepares an 8-byte (DES) vending key.
    pub fn new(vending_key: [u8; 8]) -> Dkga02 {
        let vending_key = Zeroizing::new(vending_key);
        let vk = u64::from_be_bytes(*vending_key);
        Dkga02 {
            des: Des::new(vk),
            vending_key: vk,
        }
    }

    /// As [`Dkga02::new`] from a slice, which must have 8 bytes.
    pub fn from_slice(vending_key: &[u8]) -> Result<Dkga02, KeyError> {
        let vk: Zeroizing<[u8; 8]> =
            Zeroizing::new(vending_key.try_into().map_err(|_| KeyError::Length {
                what: "a DKGA02 vending key",
                expected: 8,
                got: vending_key.len(),
            })?);
        Ok(Dkga02::new(*vk))
    }

    /// The 64-bit decoder key `DES_VK(D) ⊕ D ⊕ VK` with `D = PAN block ⊕ control block`.
    /// This is the key for any 64-bit algorithm; `params.ea` is not used.
    pub fn derive64(&self, params: &KeyParameters) -> u64 {
        let d = pan_block(params) ^ control_block(params);
        self.des.encrypt(d) ^ d ^ self.vending_key
    }

    /// The decoder key; [`KeyError::Unsupported`] for EA11, which needs 128 bits.
    pub fn derive(&self, params: &KeyParameters) -> Result<DecoderKey, KeyError> {
        match params.ea {
            EncryptionAlgorithm::Sta | EncryptionAlgorithm::Des => {
                Ok(DecoderKey::Bits64(self.derive64(params)))
            }
            EncryptionAlgorithm::Misty1 => Err(KeyError::Unsupported {
                dkga: 2,
                ea: params.ea.code(),
            }),
        }
    }
}

impl fmt::Debug for Dkga02 {
    /// The vending key is a secret: `Debug` shows none of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dkga02(****)")
    }
}

impl Drop for Dkga02 {
    fn drop(&mut self) {
        // the DES key schedule wipes itself (des' `zeroize` feature)
        self.vending_key.zeroize();
    }
}

impl ZeroizeOnDrop for Dkga02 {}

/// Length of the DKGA04 message.
pub const DKGA04_MESSAGE_LEN: usize = 49;

/// The 49-byte DKGA04 message for these parameters:
///
/// ```text
/// 04 | 02 "04" | 02 BDT ("93"/"14"/"35") | 02 EA ("07"/"11") | 02 TI | 00
/// 04 | 06 SGC | 01 KT | 01 KRN | 12 PAN (18 digits) | L in bits (u32 big-endian: 64 or 128)
/// ```
///
/// [`KeyError::Unsupported`] for EA09 (DKGA04 is defined for EA07 and EA11).
pub fn dkga04_message(params: &KeyParameters) -> Result<[u8; DKGA04_MESSAGE_LEN], KeyError> {
    let (ea, bits): (&[u8; 2], u32) = match params.ea {
        EncryptionAlgorithm::Sta => (b"07", 64),
        EncryptionAlgorithm::Misty1 => (b"11", 128),
        EncryptionAlgorithm::Des => {
            return Err(KeyError::Unsupported { dkga: 4, ea: 9 });
        }
    };
    let mut msg = [0u8; DKGA04_MESSAGE_LEN];
    let mut w = Writer {
        buf: &mut msg,
        pos: 0,
    };
    w.put(&[0x04, 0x02]);
    w.put(b"04");
    w.put(&[0x02]);
    w.put(params.base_date.code().as_bytes());
    w.put(&[0x02]);
    w.put(ea);
    w.put(&[0x02]);
    w.put(&params.ti.to_ascii());
    w.put(&[0x00, 0x04, 0x06]);
    w.put(&params.sgc.to_ascii());
    w.put(&[
        0x01,
        b'0' + params.kt.value(),
        0x01,
        params.krn.to_ascii(),
        0x12,
    ]);
    w.put(&params.pan.ascii_digits());
    w.put(&bits.to_be_bytes());
    Ok(msg)
}

struct Writer<'a> {
    buf: &'a mut [u8; DKGA04_MESSAGE_LEN],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// DKGA04 with a prepared vending key (the HMAC inner and outer states). A secret: `Debug` is
/// redacted, no `Display`, the HMAC states are zeroized when dropped (hmac's and sha2's
/// `zeroize` features).
#[derive(Clone)]
pub struct Dkga04 {
    mac: Hmac<Sha256>,
}

impl Dkga04 {
    /// Prepares a 20-byte (160-bit) vending key.
    pub fn new(vending_key: &[u8]) -> Result<Dkga04, KeyError> {
        if vending_key.len() != 20 {
            return Err(KeyError::Length {
                what: "a DKGA04 vending key",
                expected: 20,
                got: vending_key.len(),
            });
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(vending_key).map_err(|_| {
            KeyError::Length {
                what: "a DKGA04 vending key",
                expected: 20,
                got: vending_key.len(),
            }
        })?;
        Ok(Dkga04 { mac })
    }

    /// The full HMAC-SHA-256 of the DKGA04 message (key material: zeroized when dropped).
    pub fn hmac(&self, params: &KeyParameters) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let msg = dkga04_message(params)?;
        let mut mac = self.mac.clone();
        mac.update(&msg);
        Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
    }

    /// The decoder key: the leftmost 64 (EA07) or 128 (EA11) bits of the HMAC.
    pub fn derive(&self, params: &KeyParameters) -> Result<DecoderKey, KeyError> {
        let msg = dkga04_message(params)?;
        let mut mac = self.mac.clone();
        mac.update(&msg);
        // `CtOutput` wipes itself when dropped (digest's `zeroize` feature): no extra copy.
        let out = mac.finalize();
        let (first16, _) = out
            .as_bytes()
            .split_first_chunk::<16>()
            .ok_or(KeyError::Length {
                what: "an HMAC-SHA-256 output",
                expected: 32,
                got: 0,
            })?;
        let wide = u128::from_be_bytes(*first16);
        Ok(match params.ea {
            EncryptionAlgorithm::Misty1 => DecoderKey::Bits128(wide),
            _ => DecoderKey::Bits64((wide >> 64) as u64),
        })
    }
}

impl fmt::Debug for Dkga04 {
    /// The vending key is a secret: `Debug` shows none of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dkga04(****)")
    }
}

// The keyed HMAC states (the inner and outer SHA-256 cores, which is all the key leaves behind)
// wipe themselves when dropped (sha2's and digest's `zeroize` features); `Hmac` itself holds
// them and a buffer of message bytes.
impl ZeroizeOnDrop for Dkga04 {}

const _: () = {
    const fn wipes_itself<T: ZeroizeOnDrop>() {}
    wipes_itself::<<Sha256 as hmac::EagerHash>::Core>();
};

/// A prepared vending key of either algorithm.
///
/// A secret: `Debug` shows the algorithm only (`VendingKey(DKGA04, ****)`), there is no
/// `Display`, and the key material is zeroized when dropped.
///
/// ```compile_fail
/// use amikit_sts::dkga::{Dkga, VendingKey};
/// let vk = VendingKey::new(Dkga::Dkga02, &[0xAB; 8]).unwrap();
/// let _ = format!("{vk}"); // vending keys have no Display
/// ```
#[derive(Clone)]
pub enum VendingKey {
    /// An 8-byte DKGA02 key.
    Dkga02(Dkga02),
    /// A 20-byte DKGA04 key.
    Dkga04(Dkga04),
}

impl VendingKey {
    /// Prepares `key` for `dkga` (8 bytes for DKGA02, 20 for DKGA04).
    pub fn new(dkga: Dkga, key: &[u8]) -> Result<VendingKey, KeyError> {
        match dkga {
            Dkga::Dkga02 => Dkga02::from_slice(key).map(VendingKey::Dkga02),
            Dkga::Dkga04 => Dkga04::new(key).map(VendingKey::Dkga04),
        }
    }

    /// Derives the meter's decoder key.
    pub fn derive(&self, params: &KeyParameters) -> Result<DecoderKey, KeyError> {
        match self {
            VendingKey::Dkga02(k) => k.derive(params),
            VendingKey::Dkga04(k) => k.derive(params),
        }
    }

    /// The algorithm.
    pub const fn dkga(&self) -> Dkga {
        match self {
            VendingKey::Dkga02(_) => Dkga::Dkga02,
            VendingKey::Dkga04(_) => Dkga::Dkga04,
        }
    }
}

impl fmt::Debug for VendingKey {
    /// The key is a secret: `Debug` shows the algorithm only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VendingKey(DKGA{:02}, ****)", self.dkga().number())
    }
}

impl ZeroizeOnDrop for VendingKey {}

impl TryFrom<u8> for Dkga {
    type Error = KeyError;

    /// The DKGA numbered 2 or 4.
    fn try_from(value: u8) -> Result<Self, KeyError> {
        Self::from_number(value)
    }
}

impl From<Dkga> for u8 {
    /// The value of a [`Dkga`].
    fn from(value: Dkga) -> Self {
        value.number()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyRevision, SupplyGroupCode, TariffIndex};
    use crate::tid::BaseDate;

    fn params(sgc: u32, ea: EncryptionAlgorithm) -> KeyParameters {
        KeyParameters {
            pan: "600727000000000009".parse().unwrap(),
            sgc: SupplyGroupCode::new(sgc).unwrap(),
            ti: TariffIndex::new(1).unwrap(),
            krn: KeyRevision::new(1).unwrap(),
            kt: KeyType::Unique,
            base_date: BaseDate::Y1993,
            ea,
        }
    }

    #[test]
    fn dkga02_ctsa01() {
        // STS 531-1-0-02 CTSA01 step 1 (sts_vectors.json dkga02_vectors[0]).
        let p = params(123_456, EncryptionAlgorithm::Sta);
        assert_eq!(pan_block(&p), 0x0072_7000_0000_0000);
        assert_eq!(control_block(&p), 0x2123_4560_11FF_FFFF);
        let dk = Dkga02::new([0xAB; 8]).derive(&p).unwrap();
        assert_eq!(dk, DecoderKey::Bits64(0xE653_341F_9D5B_F36F));
        assert!(
            Dkga02::new([0xAB; 8])
                .derive(&params(123_456, EncryptionAlgorithm::Misty1))
                .is_err()
        );
    }

    #[test]
    fn dkga04_ctsa24() {
        // STS 531-1-0-02 CTSA24 step 1 (sts_vectors.json dkga04_vectors[0]).
        let vk = [
            0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94,
            0x94, 0x94, 0x01, 0x23, 0x45, 0x67,
        ];
        let p = params(123_457, EncryptionAlgorithm::Sta);
        let msg = dkga04_message(&p).unwrap();
        let expected_msg = *b"\x04\x0204\x0293\x0207\x0201\x00\x04\x06123457\x012\x011\x12600727000000000009\x00\x00\x00\x40";
        assert_eq!(msg, expected_msg);
        let dk = Dkga04::new(&vk).unwrap().derive(&p).unwrap();
        assert_eq!(dk, DecoderKey::Bits64(0xAA4B_AA87_49C1_0D27));
        assert!(Dkga04::new(&vk[..8]).is_err());
    }
}
