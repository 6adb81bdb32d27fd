//! `amikit decode`: recognise the protocol of the input and decode it.

use crate::error::CliError;
use crate::input;
use crate::output::Printer;

/// Arguments of `amikit decode`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Hex bytes of a frame (spaces allowed) or a 20-digit STS token; standard input when absent or `-`.
    input: Vec<String>,
}

/// A protocol recognised from the first bytes of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `[FE…] 68 A0..A5 68 C L …`
    Dlt645,
    /// `68 L L L L 68 C …`
    Gdw376,
}

/// Recognises a 20-digit STS token (optionally grouped with `-` or spaces).
pub(crate) fn is_sts_token(text: &str) -> bool {
    let digits: Vec<char> = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && *c != '-')
        .collect();
    digits.len() == 20 && digits.iter().all(char::is_ascii_digit)
}

/// Recognises the protocol of the first frame in `bytes`, skipping any garbage before it: the
/// first `68` that starts a frame whose checksum holds decides; failing that, the first `68`
/// with the header shape of either protocol.
pub(crate) fn recognise_frame(bytes: &[u8]) -> Option<Protocol> {
    let starts = || {
        bytes
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == 0x68)
            .filter_map(|(i, _)| bytes.get(i..))
    };
    starts()
        .find_map(|frame| {
            if dlt645_shape(frame) && dlt645_checksum_ok(frame) {
                Some(Protocol::Dlt645)
            } else if gdw376_shape(frame) && gdw376_checksum_ok(frame) {
                Some(Protocol::Gdw376)
            } else {
                None
            }
        })
        .or_else(|| {
            starts().find_map(|frame| match (dlt645_shape(frame), gdw376_shape(frame)) {
                (true, _) => Some(Protocol::Dlt645),
                (false, true) => Some(Protocol::Gdw376),
                (false, false) => None,
            })
        })
}

/// `68 A0..A5 68`.
fn dlt645_shape(frame: &[u8]) -> bool {
    matches!(frame, [0x68, _, _, _, _, _, _, 0x68, ..])
}

/// `68 L L 68` with both copies of L equal.
fn gdw376_shape(frame: &[u8]) -> bool {
    matches!(frame, [0x68, l1, l2, l3, l4, 0x68, ..] if l1 == l3 && l2 == l4)
}

/// Q/GDW 376.1 sums the user data (from C, L >> 2 bytes).
fn gdw376_checksum_ok(frame: &[u8]) -> bool {
    let [_, l0, l1, ..] = frame else {
        return false;
    };
    let len = usize::from(u16::from_le_bytes([*l0, *l1]) >> 2);
    match (frame.get(6..6 + len), frame.get(6 + len)) {
        (Some(summed), Some(&cs)) => summed.iter().fold(0u8, |a, &b| a.wrapping_add(b)) == cs,
        _ => false,
    }
}

/// DL/T 645 sums from the first 68 through the data.
fn dlt645_checksum_ok(frame: &[u8]) -> bool {
    let Some(&len) = frame.get(9) else {
        return false;
    };
    let end = 10 + usize::from(len);
    match (frame.get(..end), frame.get(end)) {
        (Some(summed), Some(&cs)) => summed.iter().fold(0u8, |a, &b| a.wrapping_add(b)) == cs,
        _ => false,
    }
}

/// Runs `amikit decode`.
pub(crate) fn run(args: &Args, printer: &Printer) -> Result<(), CliError> {
    let text = input::text(&args.input)?;
    if is_sts_token(&text) {
        return crate::sts::decode_text(&text, printer);
    }
    let bytes = input::hex_bytes(&text)?;
    match recognise_frame(&bytes) {
        Some(Protocol::Dlt645) => crate::dlt645::decode_bytes(&bytes, None, printer),
        Some(Protocol::Gdw376) => {
            crate::gdw376::decode_bytes(&bytes, &amikit_gdw376::Profile::default(), printer)
        }
        None => Err(CliError::new(
            "not recognised: neither a DL/T 645 frame, a Q/GDW 376.1 frame nor a 20-digit STS token",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_each_protocol() {
        // DL/T 645-2007 read request to the wildcard address (Jayla630/Dlt645Master tests).
        let dlt = [
            0x68, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0x68, 0x11, 0x04, 0x33, 0x33, 0x34, 0x33,
            0xAE, 0x16,
        ];
        assert_eq!(recognise_frame(&dlt), Some(Protocol::Dlt645));
        let mut with_preamble = vec![0xFE, 0xFE];
        with_preamble.extend_from_slice(&dlt);
        assert_eq!(recognise_frame(&with_preamble), Some(Protocol::Dlt645));
        // Q/GDW 376.1 login (liangminhua/qgdw376.1.ksy packet-sample/login.3761).
        let gdw = [
            0x68, 0x32, 0x00, 0x32, 0x00, 0x68, 0xC9, 0x71, 0x01, 0x22, 0x08, 0x00, 0x02, 0x78,
            0x00, 0x00, 0x01, 0x00, 0xE0, 0x16,
        ];
        assert_eq!(recognise_frame(&gdw), Some(Protocol::Gdw376));
        assert_eq!(recognise_frame(&[0x01, 0x02]), None);
        // Garbage before the frame does not hide it.
        let mut noisy = vec![0x00, 0x68, 0x16, 0x68];
        noisy.extend_from_slice(&gdw);
        assert_eq!(recognise_frame(&noisy), Some(Protocol::Gdw376));
        let mut noisy = vec![0x11, 0x68, 0x68];
        noisy.extend_from_slice(&dlt);
        assert_eq!(recognise_frame(&noisy), Some(Protocol::Dlt645));
        assert!(is_sts_token("5104-3465-4434-2085-6213"));
        assert!(!is_sts_token("5104346544342085621"));
    }
}
