//! The token ciphers: EA07 (STA), EA09 (DES) and EA11 (MISTY1), and [`TokenCipher`], which
//! holds any of them with its key schedule computed once.

pub mod des;
pub mod misty1;
pub mod sta;

pub use self::des::Des;
pub use self::misty1::Misty1;
pub use self::sta::{SAMPLE_TABLES, Sta, StaTables};

use crate::block::{MeterTest, TokenData};
use crate::error::{DecodeError, FieldError, KeyError};
use crate::keys::{DecoderKey, EncryptionAlgorithm};
use crate::token::{Token, TokenClass};

/// A 64-bit block cipher: EA07, EA09 and EA11 (IEC 62055-41 encrypts and decrypts the token's
/// data block as one 64-bit block), and [`TokenCipher`] over any of them.
pub trait BlockCipher64 {
    /// Encrypts one 64-bit block.
    fn encrypt(&self, block: u64) -> u64;
    /// Decrypts one 64-bit block.
    fn decrypt(&self, block: u64) -> u64;
}

/// A token cipher for one decoder key: EA07, EA09 or EA11, key schedule precomputed.
#[derive(Debug, Clone)]
pub enum TokenCipher<'t> {
    /// EA07 (STA).
    Sta(Sta<'t>),
    /// EA09 (DES).
    Des(Des),
    /// EA11 (MISTY1).
    Misty1(Misty1),
}

impl<'t> TokenCipher<'t> {
    /// The cipher of `algorithm` for `key`; EA07 needs `tables`.
    ///
    /// Errors: a key of the wrong size for the algorithm, or EA07 without tables.
    pub fn new(
        algorithm: EncryptionAlgorithm,
        key: &DecoderKey,
        tables: Option<&'t StaTables>,
    ) -> Result<TokenCipher<'t>, KeyError> {
        match (algorithm, key) {
            (EncryptionAlgorithm::Sta, DecoderKey::Bits64(k)) => {
                let tables = tables.ok_or(KeyError::MissingStaTables)?;
                Ok(TokenCipher::Sta(Sta::new(*k, tables)))
            }
            (EncryptionAlgorithm::Des, DecoderKey::Bits64(k)) => Ok(TokenCipher::Des(Des::new(*k))),
            (EncryptionAlgorithm::Misty1, DecoderKey::Bits128(k)) => {
                Ok(TokenCipher::Misty1(Misty1::from_u128(*k)))
            }
            (ea, key) => Err(KeyError::KeySize {
                bits: key.bits(),
                ea: ea.code(),
            }),
        }
    }

    /// Which algorithm this is.
    pub fn algorithm(&self) -> EncryptionAlgorithm {
        match self {
            TokenCipher::Sta(_) => EncryptionAlgorithm::Sta,
            TokenCipher::Des(_) => EncryptionAlgorithm::Des,
            TokenCipher::Misty1(_) => EncryptionAlgorithm::Misty1,
        }
    }

    /// Makes the token for `data`: the plain block with its CRC, encrypted (except class 1),
    /// with the class transposed in.
    pub fn encode(&self, data: &TokenData) -> Result<Token, FieldError> {
        let class = data.class();
        let block = data.emit()?;
        let block = if class.is_encrypted() {
            self.encrypt(block)
        } else {
            block
        };
        Ok(Token::from_block(class, block))
    }

    /// The plain 64-bit block of a token: decrypted, except for class 1. The CRC is not checked.
    pub fn plain_block(&self, token: Token) -> u64 {
        let block = token.block();
        if token.class().is_encrypted() {
            self.decrypt(block)
        } else {
            block
        }
    }

    /// Decrypts a token, checks its CRC and interprets the block.
    pub fn decode(&self, token: Token) -> Result<TokenData, DecodeError> {
        TokenData::parse(token.class(), self.plain_block(token))
    }
}

/// Makes a class 1 (initiate meter test/display) token, which needs no key.
pub fn encode_meter_test(test: &MeterTest) -> Result<Token, FieldError> {
    let data = TokenData::MeterTest(*test);
    Ok(Token::from_block(TokenClass::INITIATE_TEST, data.emit()?))
}

/// Decodes a token that is not encrypted (class 1); [`DecodeError::NeedsKey`] for the others.
pub fn decode_unencrypted(token: Token) -> Result<TokenData, DecodeError> {
    let class = token.class();
    if class.is_encrypted() {
        return Err(DecodeError::NeedsKey {
            class: class.value(),
        });
    }
    TokenData::parse(class, token.block())
}

impl BlockCipher64 for TokenCipher<'_> {
    fn encrypt(&self, block: u64) -> u64 {
        match self {
            TokenCipher::Sta(c) => c.encrypt(block),
            TokenCipher::Des(c) => c.encrypt(block),
            TokenCipher::Misty1(c) => c.encrypt(block),
        }
    }

    fn decrypt(&self, block: u64) -> u64 {
        match self {
            TokenCipher::Sta(c) => c.decrypt(block),
            TokenCipher::Des(c) => c.decrypt(block),
            TokenCipher::Misty1(c) => c.decrypt(block),
        }
    }
}
