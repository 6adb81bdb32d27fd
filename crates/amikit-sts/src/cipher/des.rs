//! EA09: single DES (FIPS 46-3) on the 64-bit block with the 64-bit decoder key.
//!
//! EA09 was withdrawn in IEC 62055-41:2018 and no published token vectors exist for it; the DES
//! itself (the RustCrypto `des` crate) is checked against FIPS 81 / NIST SP 800-17 vectors, and
//! it is also the block cipher inside DKGA02. DES parity bits of the key are ignored.

use super::BlockCipher64;
use core::fmt;

use zeroize::ZeroizeOnDrop;

use des::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};

/// A DES cipher with its key schedule.
#[derive(Clone)]
pub struct Des {
    inner: des::Des,
}

impl Des {
    /// The cipher for a 64-bit key (big-endian bytes).
    pub fn new(key: u64) -> Des {
        Des {
            inner: des::Des::new(&key.to_be_bytes().into()),
        }
    }
}

impl BlockCipher64 for Des {
    /// Encrypts one block (big-endian).
    fn encrypt(&self, block: u64) -> u64 {
        let mut b = block.to_be_bytes().into();
        self.inner.encrypt_block(&mut b);
        u64::from_be_bytes(b.into())
    }

    /// Decrypts one block (big-endian).
    fn decrypt(&self, block: u64) -> u64 {
        let mut b = block.to_be_bytes().into();
        self.inner.decrypt_block(&mut b);
        u64::from_be_bytes(b.into())
    }
}

impl fmt::Debug for Des {
    /// The key schedule is secret: `Debug` shows nothing of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Des(****)")
    }
}

// The key schedule wipes itself when dropped (the `des` crate's `zeroize` feature).
impl ZeroizeOnDrop for Des {}

const _: () = {
    const fn wipes_itself<T: ZeroizeOnDrop>() {}
    wipes_itself::<des::Des>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips81_example() {
        // FIPS 81 ECB example, key 0123456789ABCDEF, "Now is t" → 3FA40E8A984D4815.
        let des = Des::new(0x0123_4567_89AB_CDEF);
        assert_eq!(des.encrypt(0x4E6F_7720_6973_2074), 0x3FA4_0E8A_984D_4815);
        assert_eq!(des.decrypt(0x3FA4_0E8A_984D_4815), 0x4E6F_7720_6973_2074);
    }
}
