//! `amikit sts`: decode, derive decoder keys for and generate STS (IEC 62055-41) tokens.
//!
//! EA07 (STA) needs substitution and permutation tables. `--sta-tables FILE` reads them from a
//! JSON file with the keys `S1`, `S2` and `P`; without it the IEC 62055-41 *sample* tables are
//! used and the output says so (real meters use the licensed production tables, which amikit
//! never ships).

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use amikit_sts::amount::{Amount, Tenths, parse_tenths};
use amikit_sts::block::{CreditKind, MeterTest, MeterTestFormat, Rnd, TokenData};
use amikit_sts::cipher::{SAMPLE_TABLES, StaTables, TokenCipher};
use amikit_sts::dkga::{self, Dkga, VendingKey};
use amikit_sts::keys::{
    DecoderKey, EncryptionAlgorithm, KeyExpiry, KeyParameters, KeyRevision, KeyType,
    SupplyGroupCode, TariffIndex,
};
use amikit_sts::tid::{BaseDate, DateTime, Tid};
use amikit_sts::token::Token;
use amikit_sts::vend::{Issue, Management, NewKey, RndSource, Vendor};
use serde_json::{Value as Json, json};

use crate::error::CliError;
use crate::input;
use crate::output::Printer;

/// Arguments of `amikit sts`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Decode a 20-digit token (with --key: decrypt, check the CRC, show every field).
    Decode(DecodeArgs),
    /// Derive a meter's decoder key (DKGA02 or DKGA04) and print it in hex.
    DeriveKey(DeriveArgs),
    /// Generate a token.
    Generate(GenerateArgs),
}

/// Encryption algorithm: `07` (STA), `09` (DES), `11` (MISTY1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EaArg {
    /// EA07, the Standard Transfer Algorithm.
    #[value(name = "07", alias = "7")]
    Ea07,
    /// EA09, DES (withdrawn in IEC 62055-41:2018).
    #[value(name = "09", alias = "9")]
    Ea09,
    /// EA11, MISTY1.
    #[value(name = "11")]
    Ea11,
}

impl From<EaArg> for EncryptionAlgorithm {
    fn from(e: EaArg) -> Self {
        match e {
            EaArg::Ea07 => EncryptionAlgorithm::Sta,
            EaArg::Ea09 => EncryptionAlgorithm::Des,
            EaArg::Ea11 => EncryptionAlgorithm::Misty1,
        }
    }
}

/// Decoder key generation algorithm: `02` or `04`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DkgaArg {
    /// DKGA02 (DES, 8-byte vending key).
    #[value(name = "02", alias = "2")]
    Dkga02,
    /// DKGA04 (HMAC-SHA-256, 20-byte vending key).
    #[value(name = "04", alias = "4")]
    Dkga04,
}

fn parse_base_date(s: &str) -> Result<BaseDate, String> {
    let year: u16 = s.parse().map_err(|_| format!("{s}: 1993, 2014 or 2035"))?;
    BaseDate::from_year(year).map_err(|e| e.to_string())
}

/// The key, algorithm and tables of an encrypted token.
#[derive(Debug, clap::Args)]
struct KeyArgs {
    /// Decoder key in hex: 16 digits (EA07/EA09) or 32 (EA11).
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
    /// Encryption algorithm (default: 07 for a 64-bit key, 11 for a 128-bit key).
    #[arg(long, value_enum)]
    ea: Option<EaArg>,
    /// JSON file with the STA tables `S1`, `S2`, `P` (default: the IEC 62055-41 sample tables).
    #[arg(long, value_name = "FILE")]
    sta_tables: Option<PathBuf>,
    /// Base date of the TID (for showing and making TIDs).
    #[arg(long, value_name = "YEAR", value_parser = parse_base_date, default_value = "1993")]
    base_date: BaseDate,
}

#[derive(Debug, clap::Args)]
struct DecodeArgs {
    /// The 20 digits (grouping with `-` or spaces allowed); standard input when absent or `-`.
    token: Vec<String>,
    #[command(flatten)]
    key: KeyArgs,
}

#[derive(Debug, clap::Args)]
struct DeriveArgs {
    /// Decoder key generation algorithm.
    #[arg(long, value_enum)]
    dkga: DkgaArg,
    /// Vending key in hex (8 bytes for DKGA02, 20 for DKGA04).
    #[arg(long, value_name = "HEX")]
    vending_key: String,
    /// Meter PAN: 18 digits (IIN, DRN, Luhn check digit).
    #[arg(long)]
    pan: String,
    /// Supply group code, 6 digits.
    #[arg(long)]
    sgc: String,
    /// Tariff index, 0-99.
    #[arg(long)]
    ti: u8,
    /// Key revision number, 1-15.
    #[arg(long)]
    krn: u8,
    /// Key type, 0-3 (2 = unique).
    #[arg(long)]
    kt: u8,
    /// Base date (bound into the key by DKGA04).
    #[arg(long, value_name = "YEAR", value_parser = parse_base_date, default_value = "1993")]
    base_date: BaseDate,
    /// Encryption algorithm the key is for (DKGA04 makes 128-bit keys for 11).
    #[arg(long, value_enum, default_value = "07")]
    ea: EaArg,
}

#[derive(Debug, clap::Args)]
struct GenerateArgs {
    #[command(subcommand)]
    kind: GenerateKind,
}

/// When a TID-bearing token is issued.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct WhenArgs {
    /// The TID (minutes since the base date); a reserved one (mod 1440 == 1) is refused.
    #[arg(long)]
    tid: Option<u32>,
    /// Issue time YYYY-MM-DDTHH:MM[:SS] on the base date's clock (00:01 becomes 00:02).
    #[arg(long, value_name = "ISO")]
    time: Option<String>,
}

/// What every encrypted, TID-bearing token needs.
#[derive(Debug, clap::Args)]
struct StampArgs {
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    when: WhenArgs,
    /// Random number 0-15 (default: random).
    #[arg(long)]
    rnd: Option<u8>,
    /// The meter's current key type (credit is refused for 1, the default key).
    #[arg(long, default_value_t = 2)]
    kt: u8,
}

#[derive(Debug, clap::Subcommand)]
enum GenerateKind {
    /// Credit transfer (class 0, subclass 0-3).
    Credit {
        #[command(flatten)]
        stamp: StampArgs,
        /// Amount in the commodity's unit (kWh for electricity), e.g. 25.6; rounded up to the
        /// next value a token can carry.
        #[arg(long, value_name = "KWH")]
        amount: String,
        /// Subclass: 0 electricity, 1 water, 2 gas, 3 time.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=3))]
        subclass: u8,
    },
    /// Set maximum power limit (2/0), in watts (rounded up).
    MaxPowerLimit {
        #[command(flatten)]
        stamp: StampArgs,
        /// The limit in watts.
        #[arg(long)]
        watts: u64,
    },
    /// Clear credit (2/1).
    ClearCredit {
        #[command(flatten)]
        stamp: StampArgs,
        /// Register to clear (65535: all).
        #[arg(long, default_value_t = 0xFFFF)]
        register: u16,
    },
    /// Set tariff rate (2/2).
    TariffRate {
        #[command(flatten)]
        stamp: StampArgs,
        /// The rate.
        #[arg(long)]
        rate: u16,
    },
    /// Clear tamper condition (2/5).
    ClearTamper {
        #[command(flatten)]
        stamp: StampArgs,
    },
    /// Set maximum phase power unbalance limit (2/6), in watts (rounded up).
    MaxPhaseUnbalance {
        #[command(flatten)]
        stamp: StampArgs,
        /// The limit in watts.
        #[arg(long)]
        watts: u64,
    },
    /// Set water meter factor (2/7).
    WaterFactor {
        #[command(flatten)]
        stamp: StampArgs,
        /// The factor.
        #[arg(long)]
        factor: u16,
    },
    /// Key change token set (2/3 + 2/4, and 2/8 + 2/9 for a 128-bit key), under the current key.
    KeyChange {
        #[command(flatten)]
        key: KeyArgs,
        /// The new decoder key in hex (16 or 32 digits).
        #[arg(long, value_name = "HEX")]
        new_key: String,
        /// The new key type, 0-3.
        #[arg(long, default_value_t = 2)]
        new_kt: u8,
        /// The new key revision number, 1-15.
        #[arg(long)]
        new_krn: u8,
        /// The new tariff index, 0-99.
        #[arg(long)]
        new_ti: u8,
        /// The new key expiry number, 0-255 (255: never expires).
        #[arg(long, default_value_t = 255)]
        new_ken: u8,
        /// The new supply group code (required for a 128-bit key; for a 64-bit key it adds a
        /// third 3KCT section, an unverified layout).
        #[arg(long)]
        new_sgc: Option<String>,
        /// Set RO: the meter clears its TID memory (TID rollover key change).
        #[arg(long)]
        rollover: bool,
    },
    /// Initiate meter test/display (class 1, not encrypted; no key needed).
    MeterTest {
        /// Control bits in hex (36 bits, or 28 with --four-digit).
        #[arg(long, value_name = "HEX")]
        control: String,
        /// Manufacturer code (0-255, or 0-65535 with --four-digit).
        #[arg(long, default_value_t = 0)]
        manufacturer: u16,
        /// Use subclass 1: 28-bit control, 4-digit manufacturer code.
        #[arg(long)]
        four_digit: bool,
    },
}

/// Runs `amikit sts`.
pub(crate) fn run(args: &Args, printer: &Printer) -> Result<(), CliError> {
    match &args.command {
        Command::Decode(a) => {
            let text = input::text(&a.token)?;
            decode(&text, Some(&a.key), printer)
        }
        Command::DeriveKey(a) => derive(a, printer),
        Command::Generate(a) => generate(&a.kind, printer),
    }
}

/// The STA tables in use: the sample tables, or tables read from a file.
enum Tables {
    Sample,
    File(Box<StaTables>, String),
}

impl Tables {
    fn load(path: Option<&Path>) -> Result<Tables, CliError> {
        let Some(path) = path else {
            return Ok(Tables::Sample);
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
        let json: Json = serde_json::from_str(&text)
            .map_err(|e| CliError::new(format!("{}: not JSON: {e}", path.display())))?;
        let table = |k: &str| -> Result<Vec<u8>, CliError> {
            json.get(k)
                .and_then(Json::as_array)
                .ok_or_else(|| CliError::new(format!("{}: no array {k}", path.display())))?
                .iter()
                .map(|v| {
                    v.as_u64()
                        .and_then(|n| u8::try_from(n).ok())
                        .ok_or_else(|| {
                            CliError::new(format!("{}: {k} has a non-byte entry", path.display()))
                        })
                })
                .collect()
        };
        let tables = StaTables::from_slices(&table("S1")?, &table("S2")?, &table("P")?)
            .map_err(|e| CliError::new(format!("{}: {e}", path.display())))?;
        Ok(Tables::File(Box::new(tables), path.display().to_string()))
    }

    fn get(&self) -> &StaTables {
        match self {
            Tables::Sample => &SAMPLE_TABLES,
            Tables::File(t, _) => t,
        }
    }

    fn describe(&self) -> String {
        match self {
            Tables::Sample => "sample (IEC 62055-41), not production".to_owned(),
            Tables::File(_, path) => format!("file {path}"),
        }
    }
}

fn parse_key(hex: &str) -> Result<DecoderKey, CliError> {
    let bytes = input::hex_bytes(hex)?;
    DecoderKey::try_from(bytes.as_slice()).map_err(|_| {
        CliError::new(format!(
            "a decoder key has 16 or 32 hex digits, got {}",
            bytes.len() * 2
        ))
    })
}

fn default_ea(key: &DecoderKey) -> EncryptionAlgorithm {
    match key {
        DecoderKey::Bits64(_) => EncryptionAlgorithm::Sta,
        DecoderKey::Bits128(_) => EncryptionAlgorithm::Misty1,
    }
}

/// The cipher of `--key`/`--ea`/`--sta-tables`, and a note on the tables when EA07 is used.
fn cipher<'t>(
    key: DecoderKey,
    args: &KeyArgs,
    tables: &'t Tables,
) -> Result<(TokenCipher<'t>, Option<String>), CliError> {
    let ea = args.ea.map_or(default_ea(&key), EncryptionAlgorithm::from);
    let cipher =
        TokenCipher::new(ea, &key, Some(tables.get())).map_err(|e| CliError::new(e.to_string()))?;
    let note = (ea == EncryptionAlgorithm::Sta).then(|| tables.describe());
    Ok((cipher, note))
}

/// The key as lower-case big-endian hex: the one place the CLI shows a key, on purpose (the
/// `derive` command's output). `DecoderKey` itself has no `Display`.
fn key_hex(key: &DecoderKey) -> String {
    let mut buf = [0u8; 16];
    key.to_bytes(&mut buf)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex16(v: u16) -> String {
    format!("{v:04x}")
}

/// Decodes a token: with a key, fully; without, the class (and class 1 fully). Also the
/// STS arm of `amikit decode`.
pub(crate) fn decode_text(text: &str, printer: &Printer) -> Result<(), CliError> {
    decode(text, None, printer)
}

fn decode(text: &str, key: Option<&KeyArgs>, printer: &Printer) -> Result<(), CliError> {
    // Be liberal with the grouping people type: drop white space and dashes.
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let token: Token = compact
        .parse()
        .map_err(|e| CliError::new(format!("not a token: {e}")))?;
    let class = token.class();
    let base = key.map_or(BaseDate::Y1993, |k| k.base_date);
    let with_key = key.and_then(|k| k.key.as_deref().map(|hex| (k, hex)));

    let tables = Tables::load(key.and_then(|k| k.sta_tables.as_deref()))?;
    let (plain, encryption, note) = match with_key {
        // Class 1 is not encrypted: decoded without a key (a given key is not used).
        _ if !class.is_encrypted() => (token.block(), "none".to_owned(), None),
        Some((args, hex)) => {
            let (c, note) = cipher(parse_key(hex)?, args, &tables)?;
            (c.plain_block(token), c.algorithm().to_string(), note)
        }
        None => {
            let json = json!({
                "protocol": "sts",
                "token": token.to_string(),
                "class": u8::from(class),
                "encrypted": true,
                "subclass": null,
                "crc_ok": null,
            });
            printer.print(
                format_args!(
                    "STS token {token:#}\nclass: {class} (encrypted: decode with `amikit sts decode TOKEN --key HEX`)"
                ),
                &json,
            );
            return Ok(());
        }
    };
    let crc_ok = amikit_sts::crc::check(class, plain).is_ok();
    let data = TokenData::from_block(class, plain);
    let (json, human) = describe(
        &token,
        &data,
        plain,
        crc_ok,
        base,
        &encryption,
        note.as_deref(),
    );
    printer.print(human, &json);
    if crc_ok {
        Ok(())
    } else {
        Err(CliError::new(
            "CRC mismatch: wrong key, wrong algorithm or tables, or a mistyped token",
        ))
    }
}

/// The JSON object and the human text of a decoded token.
fn describe(
    token: &Token,
    data: &TokenData,
    plain: u64,
    crc_ok: bool,
    base: BaseDate,
    encryption: &str,
    tables_note: Option<&str>,
) -> (Json, String) {
    let mut j = json!({
        "protocol": "sts",
        "token": token.to_string(),
        "class": u8::from(data.class()),
        "subclass": data.subclass(),
        "type": data.name(),
        "encryption": encryption,
        "rnd": data.rnd().map(u8::from),
        "tid": data.tid().map(u32::from),
        "tid_datetime": data.tid().map(|t| t.to_datetime(base).to_string()),
        "base_date": base.year(),
        "amount": null,
        "amount_raw": null,
        "unit": null,
        "crc": hex16(plain as u16),
        "crc_ok": crc_ok,
        "block": format!("{plain:016x}"),
    });
    let mut lines = vec![
        format!("STS token {token:#}"),
        format!(
            "class {} subclass {}: {}",
            data.class(),
            data.subclass(),
            data.name()
        ),
    ];
    let mut set = |k: &str, v: Json| {
        if let Some(obj) = j.as_object_mut() {
            obj.insert(k.to_owned(), v);
        }
    };
    let mut amount = |a: Amount, tenths: bool, unit: &str| {
        let text = if tenths {
            Tenths(u64::from(a.value())).to_string()
        } else {
            a.value().to_string()
        };
        set("amount", json!(text));
        set("amount_raw", json!(hex16(u16::from(a))));
        set("unit", json!(unit));
        format!("amount: {text} {unit} (code {:04x})", u16::from(a))
    };
    match data {
        TokenData::Credit(c) => lines.push(amount(c.amount, true, c.kind.unit())),
        TokenData::Currency(c) => {
            lines.push(amount(c.amount, true, "currency units (layout unverified)"));
        }
        TokenData::MaxPowerLimit(m) => lines.push(amount(m.limit, false, "W")),
        TokenData::MaxPhasePowerUnbalanceLimit(m) => lines.push(amount(m.limit, false, "W")),
        _ => {}
    }
    match data {
        TokenData::MeterTest(t) => {
            set("control", json!(format!("{:x}", t.control)));
            set("manufacturer_code", json!(t.manufacturer_code));
            lines.push(format!(
                "control: {:x}, manufacturer code {}",
                t.control, t.manufacturer_code
            ));
        }
        TokenData::ClearCredit(c) => {
            set("register", json!(c.register));
            lines.push(format!("register: {}", c.register));
        }
        TokenData::TariffRate(r) => {
            set("rate", json!(r.rate));
            lines.push(format!("rate: {}", r.rate));
        }
        TokenData::WaterMeterFactor(w) => {
            set("factor", json!(w.factor));
            lines.push(format!("factor: {}", w.factor));
        }
        TokenData::ClearTamper(c) => set("pad", json!(hex16(c.pad))),
        TokenData::KeyChange1(k) => {
            set("ken_high", json!(k.ken_high));
            set("krn", json!(k.krn));
            set("rollover", json!(k.rollover));
            set("three_kct", json!(k.third_section));
            set("kt", json!(u8::from(k.kt)));
            set("key_bits", json!(format!("{:08x}", u32::from(&k.key_bits))));
            lines.push(format!(
                "new key section 1: bits {:08x}, KT {}, KRN {}, KENHO {:x}, RO {}, 3KCT {}",
                u32::from(&k.key_bits),
                k.kt,
                k.krn,
                k.ken_high,
                u8::from(k.rollover),
                u8::from(k.third_section)
            ));
        }
        TokenData::KeyChange2(k) => {
            set("ken_low", json!(k.ken_low));
            set("ti", json!(k.ti));
            set("key_bits", json!(format!("{:08x}", u32::from(&k.key_bits))));
            lines.push(format!(
                "new key section 2: bits {:08x}, TI {}, KENLO {:x}",
                u32::from(&k.key_bits),
                k.ti,
                k.ken_low
            ));
        }
        TokenData::KeyChange3(k) => {
            set("sgc_bits", json!(format!("{:03x}", k.sgc_bits)));
            set("key_bits", json!(format!("{:08x}", u32::from(&k.key_bits))));
            lines.push(format!(
                "new key section 3: bits {:08x}, SGC bits {:03x}",
                u32::from(&k.key_bits),
                k.sgc_bits
            ));
        }
        TokenData::KeyChange4(k) => {
            set("sgc_bits", json!(format!("{:03x}", k.sgc_bits)));
            set("key_bits", json!(format!("{:08x}", u32::from(&k.key_bits))));
            lines.push(format!(
                "new key section 4: bits {:08x}, SGC bits {:03x}",
                u32::from(&k.key_bits),
                k.sgc_bits
            ));
        }
        TokenData::Reserved(r) => set("data", json!(format!("{:011x}", r.data))),
        _ => {}
    }
    if let (Some(rnd), Some(tid)) = (data.rnd(), data.tid()) {
        lines.push(format!(
            "RND {}, TID {} = {} (base {})",
            u8::from(rnd),
            tid,
            tid.to_datetime(base),
            base
        ));
    }
    lines.push(format!(
        "block {plain:016x}, CRC {}, encryption {encryption}",
        if crc_ok { "ok" } else { "MISMATCH" }
    ));
    if let Some(note) = tables_note {
        set("sta_tables", json!(note));
        lines.push(format!("STA tables: {note}"));
    }
    (j, lines.join("\n"))
}

fn derive(a: &DeriveArgs, printer: &Printer) -> Result<(), CliError> {
    let err = |e: amikit_sts::error::KeyError| CliError::new(e.to_string());
    let params = KeyParameters {
        pan: a
            .pan
            .parse()
            .map_err(|e| CliError::new(format!("--pan: {e}")))?,
        sgc: a.sgc.parse::<SupplyGroupCode>().map_err(err)?,
        ti: TariffIndex::try_from(a.ti).map_err(err)?,
        krn: KeyRevision::try_from(a.krn).map_err(err)?,
        kt: KeyType::try_from(a.kt).map_err(err)?,
        base_date: a.base_date,
        ea: a.ea.into(),
    };
    let dkga = match a.dkga {
        DkgaArg::Dkga02 => Dkga::Dkga02,
        DkgaArg::Dkga04 => Dkga::Dkga04,
    };
    let vk = input::hex_bytes(&a.vending_key)?;
    let key = VendingKey::new(dkga, &vk)
        .and_then(|k| k.derive(&params))
        .map_err(err)?;
    let mut j = json!({
        "decoder_key": key_hex(&key),
        "bits": key.bits(),
        "dkga": format!("{:02}", u8::from(dkga)),
        "ea": format!("{:02}", u8::from(params.ea)),
        "pan": params.pan.to_string(),
        "base_date": params.base_date.year(),
    });
    if let (Dkga::Dkga02, Some(obj)) = (dkga, j.as_object_mut()) {
        obj.insert(
            "pan_block".into(),
            json!(format!("{:016x}", dkga::pan_block(&params))),
        );
        obj.insert(
            "control_block".into(),
            json!(format!("{:016X}", dkga::control_block(&params))),
        );
    }
    printer.print(key_hex(&key), &j);
    Ok(())
}

/// A random RND from the process's randomly seeded hasher (RND only makes tokens differ; it is
/// not a secret).
struct ProcessRandom;

impl RndSource for ProcessRandom {
    fn next_rnd(&mut self) -> Rnd {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id().into());
        Rnd::from_bits(h.finish() as u8)
    }
}

fn issue(when: &WhenArgs) -> Result<Issue, CliError> {
    match (&when.tid, &when.time) {
        (Some(tid), _) => Ok(Issue::Tid(
            Tid::try_from(*tid).map_err(|e| CliError::new(format!("--tid: {e}")))?,
        )),
        (None, Some(time)) => {
            Ok(Issue::At(time.parse::<DateTime>().map_err(|e| {
                CliError::new(format!("--time {time}: {e}"))
            })?))
        }
        (None, None) => Err(CliError::new("give --tid or --time")),
    }
}

fn generate(kind: &GenerateKind, printer: &Printer) -> Result<(), CliError> {
    let vend_err = |e: amikit_sts::error::VendError| CliError::new(format!("refused: {e}"));
    match kind {
        GenerateKind::MeterTest {
            control,
            manufacturer,
            four_digit,
        } => {
            let control = u64::from_str_radix(control.trim_start_matches("0x"), 16)
                .map_err(|e| CliError::new(format!("--control {control}: {e}")))?;
            let test = MeterTest {
                format: if *four_digit {
                    MeterTestFormat::FourDigitMfr
                } else {
                    MeterTestFormat::TwoDigitMfr
                },
                control,
                manufacturer_code: *manufacturer,
            };
            let token = amikit_sts::cipher::encode_meter_test(&test)
                .map_err(|e| CliError::new(e.to_string()))?;
            let data = TokenData::MeterTest(test);
            return print_token(&token, &data, BaseDate::Y1993, None, printer);
        }
        GenerateKind::KeyChange {
            key,
            new_key,
            new_kt,
            new_krn,
            new_ti,
            new_ken,
            new_sgc,
            rollover,
        } => {
            let err = |e: amikit_sts::error::KeyError| CliError::new(e.to_string());
            let tables = Tables::load(key.sta_tables.as_deref())?;
            let current = parse_key(key.key.as_deref().ok_or_else(|| {
                CliError::new("--key (the meter's current decoder key) is required")
            })?)?;
            let (cipher, note) = cipher(current, key, &tables)?;
            let vendor = Vendor::new(cipher, KeyType::Unique, key.base_date);
            let new = NewKey {
                key: parse_key(new_key)?,
                kt: KeyType::try_from(*new_kt).map_err(err)?,
                krn: KeyRevision::try_from(*new_krn).map_err(err)?,
                ken: KeyExpiry(*new_ken),
                ti: TariffIndex::try_from(*new_ti).map_err(err)?,
                rollover: *rollover,
                sgc: new_sgc
                    .as_deref()
                    .map(str::parse::<SupplyGroupCode>)
                    .transpose()
                    .map_err(err)?,
            };
            let set = vendor.key_change(&new).map_err(vend_err)?;
            let tokens: Vec<String> = set.iter().map(Token::to_string).collect();
            let mut j = json!({ "tokens": tokens });
            let mut human: Vec<String> = set
                .iter()
                .enumerate()
                .map(|(i, t)| format!("{} {t:#}", i + 1))
                .collect();
            if let (Some(note), Some(obj)) = (&note, j.as_object_mut()) {
                obj.insert("sta_tables".into(), json!(note));
                human.push(format!("STA tables: {note}"));
            }
            printer.print(human.join("\n"), &j);
            return Ok(());
        }
        _ => {}
    }
    let stamp = match kind {
        GenerateKind::Credit { stamp, .. }
        | GenerateKind::MaxPowerLimit { stamp, .. }
        | GenerateKind::ClearCredit { stamp, .. }
        | GenerateKind::TariffRate { stamp, .. }
        | GenerateKind::ClearTamper { stamp }
        | GenerateKind::MaxPhaseUnbalance { stamp, .. }
        | GenerateKind::WaterFactor { stamp, .. } => stamp,
        GenerateKind::KeyChange { .. } | GenerateKind::MeterTest { .. } => {
            return Err(CliError::new("internal: unhandled token kind"));
        }
    };
    let tables = Tables::load(stamp.key.sta_tables.as_deref())?;
    let key = parse_key(
        stamp
            .key
            .key
            .as_deref()
            .ok_or_else(|| CliError::new("--key (the meter's decoder key) is required"))?,
    )?;
    let (cipher, note) = cipher(key, &stamp.key, &tables)?;
    let kt = KeyType::try_from(stamp.kt).map_err(|e| CliError::new(e.to_string()))?;
    let vendor = Vendor::new(cipher, kt, stamp.key.base_date);
    let rnd = match stamp.rnd {
        Some(r) => Rnd::try_from(r).map_err(|e| CliError::new(format!("--rnd: {e}")))?,
        None => Rnd::random(&mut ProcessRandom),
    };
    let when = issue(&stamp.when)?;
    let token = match kind {
        GenerateKind::Credit {
            amount, subclass, ..
        } => {
            let tenths = parse_tenths(amount)
                .map_err(|e| CliError::new(format!("--amount {amount}: {e}")))?;
            vendor.credit(CreditKind::from_subclass(*subclass), tenths, when, rnd)
        }
        GenerateKind::MaxPowerLimit { watts, .. } => {
            vendor.management(Management::MaxPowerLimit { watts: *watts }, when, rnd)
        }
        GenerateKind::ClearCredit { register, .. } => vendor.management(
            Management::ClearCredit {
                register: *register,
            },
            when,
            rnd,
        ),
        GenerateKind::TariffRate { rate, .. } => {
            vendor.management(Management::TariffRate { rate: *rate }, when, rnd)
        }
        GenerateKind::ClearTamper { .. } => vendor.management(Management::ClearTamper, when, rnd),
        GenerateKind::MaxPhaseUnbalance { watts, .. } => vendor.management(
            Management::MaxPhasePowerUnbalanceLimit { watts: *watts },
            when,
            rnd,
        ),
        GenerateKind::WaterFactor { factor, .. } => {
            vendor.management(Management::WaterMeterFactor { factor: *factor }, when, rnd)
        }
        GenerateKind::KeyChange { .. } | GenerateKind::MeterTest { .. } => {
            return Err(CliError::new("internal: unhandled token kind"));
        }
    }
    .map_err(vend_err)?;
    let data = vendor
        .cipher()
        .decode(token)
        .map_err(|e| CliError::new(format!("internal: {e}")))?;
    print_token(&token, &data, stamp.key.base_date, note.as_deref(), printer)
}

fn print_token(
    token: &Token,
    data: &TokenData,
    base: BaseDate,
    tables_note: Option<&str>,
    printer: &Printer,
) -> Result<(), CliError> {
    let plain = data
        .emit()
        .map_err(|e| CliError::new(format!("internal: {e}")))?;
    let (mut j, _) = describe(token, data, plain, true, base, "", tables_note);
    if let Some(obj) = j.as_object_mut() {
        obj.remove("encryption");
        obj.remove("crc_ok");
        obj.remove("protocol");
    }
    // Standard output carries the token alone (or the JSON, which has `sta_tables`); the
    // table note also goes to standard error.
    if let Some(note) = tables_note {
        eprintln!("note: STA tables: {note}");
    }
    printer.print(token, &j);
    Ok(())
}
