//! The token CRC: CRC-16/MODBUS over the class and the first 48 bits of the block.
//!
//! Polynomial x¹⁶+x¹⁵+x²+1 reflected (0xA001), initial value 0xFFFF, no final XOR (the `crc`
//! crate's `CRC_16_MODBUS`), computed over 7 bytes big-endian:
//! `000000cc | subclass:4 rnd:4 | TID (3 bytes) | value (2 bytes)`, i.e. the class byte followed
//! by the first 48 bits of the 64-bit data block. The 16-bit CRC field of the block holds the
//! result byte-swapped (`(crc & 0xFF) << 8 | crc >> 8`, MODBUS "low byte first").
//!
//! Checked against the STS Association's published example (class 0, block
//! `05C02A552710`, CRC field 0x1970) and every compliance token.

use crate::token::TokenClass;

const MODBUS: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_MODBUS);

/// The 7 bytes the CRC covers: the class byte, then the first 48 bits of the block.
pub const fn crc_input(class: TokenClass, first48: u64) -> [u8; 7] {
    let b = first48.to_be_bytes();
    [class.value(), b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// The value of the CRC field for a block whose first 48 bits are `first48` (the upper 16 bits
/// of `first48` are ignored), as stored in the block (byte-swapped MODBUS CRC).
pub const fn token_crc(class: TokenClass, first48: u64) -> u16 {
    let input = crc_input(class, first48 & 0xFFFF_FFFF_FFFF);
    MODBUS.checksum(&input).swap_bytes()
}

/// Appends the CRC to the first 48 bits: the complete 64-bit plain data block.
pub(crate) const fn seal(class: TokenClass, first48: u64) -> u64 {
    let first48 = first48 & 0xFFFF_FFFF_FFFF;
    (first48 << 16) | token_crc(class, first48) as u64
}

/// Checks the CRC field (low 16 bits) of a plain 64-bit block against its first 48 bits.
pub const fn check(class: TokenClass, block: u64) -> Result<(), crate::error::DecodeError> {
    let found = block as u16;
    let computed = token_crc(class, block >> 16);
    if found == computed {
        Ok(())
    } else {
        Err(crate::error::DecodeError::Crc { found, computed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_association_example() {
        // IEC 62055-41 CRC-16 of the token data block: class 0, 0000 0101 | TID 0xC02A55 | 0x2710 → CRC 0001100101110000.
        assert_eq!(token_crc(TokenClass::TRANSFER, 0x05C0_2A55_2710), 0x1970);
        assert_eq!(
            seal(TokenClass::TRANSFER, 0x05C0_2A55_2710),
            0x05C0_2A55_2710_1970
        );
        assert!(check(TokenClass::TRANSFER, 0x05C0_2A55_2710_1970).is_ok());
        assert!(check(TokenClass::MANAGEMENT, 0x05C0_2A55_2710_1970).is_err());
    }

    #[test]
    fn worked_example() {
        // IEC 62055-41 worked example block 0B19EB230100C207 (IEC 62055-41 worked example of the STA).
        assert_eq!(token_crc(TokenClass::TRANSFER, 0x0B19_EB23_0100), 0xC207);
    }
}
