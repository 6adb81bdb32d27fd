//! Reading user input: hex given as arguments (with or without spaces) or on standard input.

use std::io::Read;

use crate::error::CliError;

/// Joins the arguments, or reads standard input when there are none or the only one is `-`.
pub(crate) fn text(args: &[String]) -> Result<String, CliError> {
    match args {
        [] => read_stdin(),
        [only] if only == "-" => read_stdin(),
        _ => Ok(args.join(" ")),
    }
}

fn read_stdin() -> Result<String, CliError> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

/// Parses hex digits, ignoring white space and the separators `:`, `-` and `,` and an optional
/// `0x` before each group.
pub(crate) fn hex_bytes(text: &str) -> Result<Vec<u8>, CliError> {
    let mut digits = String::with_capacity(text.len());
    for group in text.split(|c: char| c.is_ascii_whitespace() || matches!(c, ':' | '-' | ',')) {
        let group = group
            .strip_prefix("0x")
            .or_else(|| group.strip_prefix("0X"))
            .unwrap_or(group);
        digits.push_str(group);
    }
    if digits.is_empty() {
        return Err(CliError::new(
            "no input: give hex bytes as arguments or on standard input",
        ));
    }
    if let Some((pos, c)) = digits.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(CliError::new(format!(
            "not a hex digit: {c:?} (digit {})",
            pos + 1
        )));
    }
    if !digits.len().is_multiple_of(2) {
        return Err(CliError::new(format!(
            "odd number of hex digits ({}): every byte needs two",
            digits.len()
        )));
    }
    hex::decode(&digits).map_err(|e| CliError::new(format!("bad hex: {e}")))
}

#[cfg(test)]
mod tests {
    use super::hex_bytes;

    #[test]
    fn hex_with_and_without_spaces() {
        assert_eq!(hex_bytes("68 aa 16").ok(), Some(vec![0x68, 0xAA, 0x16]));
        assert_eq!(hex_bytes("68AA16").ok(), Some(vec![0x68, 0xAA, 0x16]));
        assert_eq!(
            hex_bytes("0x68,0xAA:16\n").ok(),
            Some(vec![0x68, 0xAA, 0x16])
        );
    }

    #[test]
    fn bad_hex_is_an_error() {
        assert!(hex_bytes("6").is_err());
        assert!(hex_bytes("zz").is_err());
        assert!(hex_bytes("  ").is_err());
    }
}
