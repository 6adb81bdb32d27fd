//! Conformance: every vector of `tests/vectors/sts_vectors.json` (in the repository), and of the
//! outside file `sts/sts_vectors.json` when the vector folder is present.
//!
//! The in-repository file holds the redistributable vectors (the STS 531-1-0 compliance steps,
//! RFC 2994, FIPS 81 / SP 800-17, the STS Association's examples, the IEC 62055-41 worked
//! example with the sample tables; its `meta` says what was selected and why), so a fresh clone
//! runs conformance. The outside folder (`$AMIKIT_VECTORS`, else `../shared/vectors`, see
//! `amikit_testkit`) adds its other entries and the production STA tables
//! (`sts/sta_production_tables.json`, licensed STS Association material that is never copied
//! here). Without those tables the EA07 token vectors and STA block pairs are not checked: the
//! test prints one line per such kind with the count and the reason.
//!
//! This is a `harness = false` test so that it always prints how many vectors of each kind it
//! checked. Every kind must be accounted for completely: a count of checked plus not-run vectors
//! that differs from the number of vectors in the files is a failure too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use amikit_sts::cipher::BlockCipher64;
use std::fmt::Write as _;

use amikit_sts::amount::{Amount, parse_tenths};
use amikit_sts::block::{CreditKind, Rnd, TokenData};
use amikit_sts::cipher::{Des, Misty1, SAMPLE_TABLES, Sta, StaTables, TokenCipher};
use amikit_sts::crc;
use amikit_sts::dkga::{self, Dkga02, Dkga04};
use amikit_sts::keys::{
    DecoderKey, EncryptionAlgorithm, KeyExpiry, KeyParameters, KeyRevision, KeyType,
    SupplyGroupCode, TariffIndex,
};
use amikit_sts::meter::{Action, Meter, MeterConfig, Reject};
use amikit_sts::pan::{MeterPan, luhn_check_digit, luhn_valid};
use amikit_sts::tid::{BaseDate, DateTime, Tid};
use amikit_sts::token::{Token, TokenClass};
use amikit_sts::vend::{Issue, Management, Vendor};
use serde_json::Value;

const TEST: &str = "sts_conformance";

/// Counts per kind, and failures.
#[derive(Default)]
struct Report {
    /// Kinds in the order first seen, with their counts.
    counts: Vec<(&'static str, usize)>,
    /// Kinds with vectors that need the production STA tables, which were not found.
    not_run: Vec<(&'static str, usize)>,
    failures: Vec<String>,
}

impl Report {
    fn pass(&mut self, kind: &'static str) {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((kind, 1)),
        }
    }

    fn check(&mut self, kind: &'static str, id: &str, result: Result<(), String>) {
        match result {
            Ok(()) => self.pass(kind),
            Err(e) => self.failures.push(format!("{kind}: {id}: {e}")),
        }
    }

    /// One vector of `kind` that needs the production STA tables, which are absent.
    fn needs_tables(&mut self, kind: &'static str) {
        match self.not_run.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.not_run.push((kind, 1)),
        }
    }

    fn count(&self, kind: &str) -> usize {
        self.counts
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    fn not_run(&self, kind: &str) -> usize {
        self.not_run
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }

    /// Every vector of the kind was checked, or (without the production tables) counted as
    /// not run.
    fn expect_count(&mut self, kind: &'static str, expected: usize) {
        let (got, not_run) = (self.count(kind), self.not_run(kind));
        if got + not_run != expected {
            self.failures.push(format!(
                "{kind}: checked {got} (and {not_run} not run) of {expected} vectors in the files"
            ));
        }
    }
}

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn hex_u64(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn hex_u128(s: &str) -> u128 {
    u128::from_str_radix(s, 16).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A number given either as a JSON number or as a decimal string.
fn num(v: &Value, key: &str) -> Option<u64> {
    match v.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn decoder_key(hex: &str) -> DecoderKey {
    match hex.len() {
        16 => DecoderKey::Bits64(hex_u64(hex)),
        32 => DecoderKey::Bits128(hex_u128(hex)),
        n => panic!("decoder key of {n} hex digits"),
    }
}

fn algorithm(name: &str) -> Option<EncryptionAlgorithm> {
    match name {
        "EA07_STA" => Some(EncryptionAlgorithm::Sta),
        "EA11_MISTY1" => Some(EncryptionAlgorithm::Misty1),
        "EA09_DES" => Some(EncryptionAlgorithm::Des),
        _ => None,
    }
}

fn base_date(code: &str) -> BaseDate {
    match code {
        "93" | "1993" => BaseDate::Y1993,
        "14" | "2014" => BaseDate::Y2014,
        "35" | "2035" => BaseDate::Y2035,
        other => panic!("base date {other}"),
    }
}

/// The key parameters of a `key_derivation` object (both the DKGA02 and the DKGA04 forms).
fn key_parameters(kd: &Value, ea: EncryptionAlgorithm) -> Result<KeyParameters, String> {
    let pan: MeterPan = if let Some(pan) = str_of(kd, "meter_pan").or_else(|| str_of(kd, "pan")) {
        pan.parse().map_err(|e| format!("PAN {pan}: {e}"))?
    } else {
        let iin = str_of(kd, "iin").ok_or("no PAN, no IIN")?;
        let drn = str_of(kd, "drn_iain").ok_or("no DRN")?;
        MeterPan::from_parts(iin, drn).map_err(|e| format!("PAN parts: {e}"))?
    };
    Ok(KeyParameters {
        pan,
        sgc: str_of(kd, "supply_group_code")
            .ok_or("no SGC")?
            .parse::<SupplyGroupCode>()
            .map_err(|e| e.to_string())?,
        ti: TariffIndex::try_from(num(kd, "tariff_index").ok_or("no TI")? as u8)
            .map_err(|e| e.to_string())?,
        krn: KeyRevision::try_from(num(kd, "key_revision_number").ok_or("no KRN")? as u8)
            .map_err(|e| e.to_string())?,
        kt: KeyType::try_from(num(kd, "key_type").ok_or("no KT")? as u8)
            .map_err(|e| e.to_string())?,
        base_date: str_of(kd, "base_date_code").map_or(BaseDate::Y1993, base_date),
        ea,
    })
}

/// Derives the decoder key from a `key_derivation` object and checks every intermediate value
/// the object states. Returns the derived key.
fn check_derivation(
    kd: &Value,
    ea: EncryptionAlgorithm,
    default_algorithm: &str,
) -> Result<DecoderKey, String> {
    let vk = amikit_testkit::hex(str_of(kd, "vending_key_hex").ok_or("no vending key")?);
    let algorithm = str_of(kd, "algorithm")
        .map(str::to_owned)
        .or_else(|| str_of(kd, "dkga").map(|d| format!("DKGA{d}")))
        .unwrap_or_else(|| default_algorithm.to_owned());
    let ea = match str_of(kd, "ea_code") {
        Some("07") => EncryptionAlgorithm::Sta,
        Some("11") => EncryptionAlgorithm::Misty1,
        Some(other) => return Err(format!("EA code {other}")),
        None => ea,
    };
    let params = key_parameters(kd, ea)?;
    match algorithm.as_str() {
        "DKGA02" => {
            if let Some(pb) = str_of(kd, "pan_block") {
                ensure!(
                    dkga::pan_block(&params) == hex_u64(pb),
                    "PAN block {:016X} != {pb}",
                    dkga::pan_block(&params)
                );
            }
            if let Some(cb) = str_of(kd, "control_block") {
                ensure!(
                    dkga::control_block(&params) == hex_u64(cb),
                    "control block {:016X} != {cb}",
                    dkga::control_block(&params)
                );
            }
            Dkga02::from_slice(&vk)
                .and_then(|d| d.derive(&params))
                .map_err(|e| e.to_string())
        }
        "DKGA04" => {
            if let Some(msg) = str_of(kd, "kdf_input_hex") {
                let ours = dkga::dkga04_message(&params).map_err(|e| e.to_string())?;
                ensure!(
                    ours.as_slice() == amikit_testkit::hex(msg),
                    "DKGA04 message {} != {msg}",
                    amikit_testkit::to_hex(&ours[..])
                );
            }
            let d = Dkga04::new(&vk).map_err(|e| e.to_string())?;
            if let Some(h) = str_of(kd, "hmac_sha256_hex") {
                let ours = d.hmac(&params).map_err(|e| e.to_string())?;
                ensure!(
                    ours.as_slice() == amikit_testkit::hex(h),
                    "HMAC {} != {h}",
                    amikit_testkit::to_hex(&ours[..])
                );
            }
            if let Some(bits) = num(kd, "L_bits") {
                ensure!(bits == u64::from(ea.key_bits()), "L = {bits} for {ea}");
            }
            d.derive(&params).map_err(|e| e.to_string())
        }
        other => Err(format!("derivation algorithm {other}")),
    }
}

/// Checks the decoded fields of a vector against our typed block.
fn check_fields(data: &TokenData, plain: u64, f: &Value, base: BaseDate) -> Result<(), String> {
    if let Some(sub) = num(f, "subclass") {
        ensure!(
            u64::from(data.subclass()) == sub,
            "subclass {} != {sub}",
            data.subclass()
        );
    }
    if let Some(c) = str_of(f, "crc_hex") {
        ensure!(
            plain & 0xFFFF == hex_u64(c),
            "CRC field {:04x} != {c}",
            plain & 0xFFFF
        );
    }
    if let Some(rnd) = num(f, "rnd") {
        ensure!(
            data.rnd().map(|r| u64::from(u8::from(r))) == Some(rnd),
            "RND != {rnd}"
        );
    }
    if let Some(tid) = num(f, "tid") {
        ensure!(
            data.tid().map(|t| u64::from(u32::from(t))) == Some(tid),
            "TID != {tid}"
        );
        let stated = str_of(f, "tid_datetime").or_else(|| str_of(f, "tid_datetime_base1993"));
        if let (Some(stated), Some(t)) = (stated, data.tid()) {
            let base = if f.get("tid_datetime_base1993").is_some() {
                BaseDate::Y1993
            } else {
                base
            };
            let ours = t.to_datetime(base);
            ensure!(
                stated.parse::<amikit_sts::tid::DateTime>() == Ok(ours),
                "TID date-time {ours} != {stated}"
            );
            let back = Tid::from_datetime(&stated.parse().unwrap(), base).unwrap();
            ensure!(back == t, "date-time {stated} gives TID {back}");
        }
    }
    let value16 = (plain >> 16) as u16;
    for key in [
        "amount_raw_hex",
        "value16_hex",
        "mpl_raw_hex",
        "mppul_raw_hex",
        "register_raw_hex",
        "pad_raw_hex",
    ] {
        if let Some(raw) = str_of(f, key) {
            ensure!(
                u64::from(value16) == hex_u64(raw),
                "{key} {value16:04x} != {raw}"
            );
        }
    }
    let amount = match data {
        TokenData::Credit(c) => Some(c.amount),
        TokenData::MaxPowerLimit(m) => Some(m.limit),
        TokenData::MaxPhasePowerUnbalanceLimit(m) => Some(m.limit),
        _ => None,
    };
    for key in ["amount_tenths", "mpl_decoded", "mppul_decoded"] {
        if let Some(v) = num(f, key) {
            let ours = amount.map(|a| u64::from(a.value()));
            ensure!(ours == Some(v), "{key}: {ours:?} != {v}");
        }
    }
    if let Some(e) = num(f, "amount_exponent") {
        ensure!(
            amount.map(|a| u64::from(a.exponent())) == Some(e),
            "exponent != {e}"
        );
    }
    if let Some(m) = num(f, "amount_mantissa") {
        ensure!(
            amount.map(|a| u64::from(a.mantissa())) == Some(m),
            "mantissa != {m}"
        );
    }
    match data {
        TokenData::MeterTest(t) => {
            let control = str_of(f, "control_hex").ok_or("no control_hex")?;
            ensure!(
                t.control == hex_u64(control),
                "control {:x} != {control}",
                t.control
            );
            let mfr = num(f, "manufacturer_code").ok_or("no manufacturer code")?;
            ensure!(u64::from(t.manufacturer_code) == mfr, "MfrCode != {mfr}");
        }
        TokenData::KeyChange1(k) => {
            ensure!(Some(u64::from(k.ken_high)) == num(f, "kenho"), "KENHO");
            ensure!(Some(u64::from(k.krn)) == num(f, "krn"), "KRN");
            ensure!(Some(u64::from(k.rollover)) == num(f, "ro"), "RO");
            ensure!(
                Some(u64::from(k.third_section)) == num(f, "res"),
                "RES/3KCT"
            );
            ensure!(Some(u64::from(u8::from(k.kt))) == num(f, "kt"), "KT");
            ensure!(
                Some(u64::from(u32::from(&k.key_bits))) == str_of(f, "nkho_hex").map(hex_u64),
                "NKHO"
            );
        }
        TokenData::KeyChange2(k) => {
            ensure!(Some(u64::from(k.ken_low)) == num(f, "kenlo"), "KENLO");
            ensure!(Some(u64::from(k.ti)) == num(f, "ti"), "TI");
            ensure!(
                Some(u64::from(u32::from(&k.key_bits))) == str_of(f, "nklo_hex").map(hex_u64),
                "NKLO"
            );
        }
        TokenData::KeyChange3(k) => {
            ensure!(
                Some(u64::from(k.sgc_bits)) == str_of(f, "sgc_part_hex").map(hex_u64),
                "SGC part"
            );
            ensure!(
                Some(u64::from(u32::from(&k.key_bits))) == str_of(f, "nk_part_hex").map(hex_u64),
                "NK part"
            );
        }
        TokenData::KeyChange4(k) => {
            ensure!(
                Some(u64::from(k.sgc_bits)) == str_of(f, "sgc_part_hex").map(hex_u64),
                "SGC part"
            );
            ensure!(
                Some(u64::from(u32::from(&k.key_bits))) == str_of(f, "nk_part_hex").map(hex_u64),
                "NK part"
            );
        }
        _ => {}
    }
    Ok(())
}

/// `dd/mm/yyyy hh:mm:ss` as written in the Nectar tests.
fn nectar_datetime(s: &str) -> DateTime {
    let (date, time) = s.split_once(' ').unwrap();
    let d: Vec<&str> = date.split('/').collect();
    format!("{}-{}-{}T{time}", d[2], d[1], d[0])
        .parse()
        .unwrap()
}

struct TokenCheck<'a> {
    v: &'a Value,
    tables: &'a StaTables,
}

impl TokenCheck<'_> {
    fn id(&self) -> &str {
        str_of(self.v, "id").unwrap_or("?")
    }

    fn token(&self) -> Token {
        str_of(self.v, "token").unwrap().parse().unwrap()
    }

    fn cipher(&self) -> Result<Option<TokenCipher<'_>>, String> {
        let Some(ea) = algorithm(str_of(self.v, "encryption").unwrap_or("none")) else {
            return Ok(None);
        };
        let key = decoder_key(str_of(self.v, "decoder_key_hex").ok_or("no decoder key")?);
        TokenCipher::new(ea, &key, Some(self.tables))
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn base(&self) -> BaseDate {
        let f = &self.v["decoded_fields"];
        match num(f, "tid_base_date") {
            Some(y) => BaseDate::from_year(y as u16).unwrap(),
            None => self
                .v
                .get("key_derivation")
                .and_then(|kd| str_of(kd, "base_date_code"))
                .map_or(BaseDate::Y1993, base_date),
        }
    }

    fn key_type(&self) -> KeyType {
        self.v
            .get("key_derivation")
            .and_then(|kd| num(kd, "key_type"))
            .map_or(KeyType::Unique, |k| KeyType::try_from(k as u8).unwrap())
    }

    /// Decode: transposition, decryption, CRC, fields; then re-encode to the same token.
    fn decode(&self) -> Result<TokenData, String> {
        let v = self.v;
        let token = self.token();
        if let Some(h) = str_of(v, "token_66bit_hex") {
            ensure!(
                u128::from(token) == hex_u128(h),
                "66-bit value {:x} != {h}",
                u128::from(token)
            );
        }
        ensure!(
            Some(u64::from(u8::from(token.class()))) == num(v, "token_class"),
            "class {}",
            token.class()
        );
        ensure!(
            std::str::from_utf8(&token.to_digits()).unwrap() == str_of(v, "token").unwrap(),
            "digits"
        );
        if let Some(c) = str_of(v, "ciphertext_block_hex") {
            ensure!(
                token.block() == hex_u64(c),
                "block {:016x} != {c}",
                token.block()
            );
        }
        let plain = match self.cipher()? {
            Some(cipher) => cipher.plain_block(token),
            None => {
                ensure!(
                    !token.class().is_encrypted(),
                    "no cipher for class {}",
                    token.class()
                );
                token.block()
            }
        };
        let expected = hex_u64(str_of(v, "plaintext_block_hex").ok_or("no plaintext")?);
        ensure!(
            plain == expected,
            "plain block {plain:016x} != {expected:016x}"
        );
        let data = TokenData::parse(token.class(), plain).map_err(|e| e.to_string())?;
        if let Some(sub) = num(v, "token_subclass") {
            ensure!(u64::from(data.subclass()) == sub, "subclass");
        }
        if let Some(name) = str_of(v, "token_type") {
            ensure!(data.name() == name, "type {} != {name}", data.name());
        }
        check_fields(&data, plain, &v["decoded_fields"], self.base())?;
        // Encoding the typed block again gives the same token.
        let again = match self.cipher()? {
            Some(cipher) => cipher.encode(&data).map_err(|e| e.to_string())?,
            None => amikit_sts::cipher::encode_meter_test(match &data {
                TokenData::MeterTest(t) => t,
                _ => return Err("unencrypted token that is not class 1".into()),
            })
            .map_err(|e| e.to_string())?,
        };
        ensure!(again == token, "re-encoded as {again}");
        Ok(data)
    }

    /// Vends the token again from the inputs the test source states (date-time literals,
    /// amount or limit literals) and the decoded RND: reserved minute and rounding up.
    fn vend(&self, data: &TokenData) -> Result<bool, String> {
        let Some(stated) = self.v.get("stated_inputs_in_test_source") else {
            return Ok(false);
        };
        let Some(times) = stated
            .get("dateTime_literals_in_test")
            .and_then(Value::as_array)
        else {
            return Ok(false);
        };
        let Some(cipher) = self.cipher()? else {
            return Ok(false);
        };
        if data.tid().is_none() {
            // Key-change sections carry no TID: nothing time-dependent to vend again.
            return Ok(false);
        }
        let vendor = Vendor::new(cipher, self.key_type(), self.base());
        let rnd = data.rnd().unwrap_or_default();
        let amount = stated
            .get("Amount_literals_in_test_(kWh_or_units)")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str);
        let limit = stated
            .get("limit_literals_in_test")
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .map(|l| l.parse::<u64>().unwrap());
        let token = self.token();
        let mut tried = Vec::new();
        for t in times {
            let at = Issue::At(nectar_datetime(t.as_str().unwrap()));
            let made = match data {
                TokenData::Credit(c) => match amount {
                    Some(amount) => {
                        let tenths = parse_tenths(amount).map_err(|e| e.to_string())?;
                        vendor.credit(c.kind, tenths, at, rnd)
                    }
                    // No amount stated: the decoded amount code, exactly.
                    None => vendor.credit_amount(c.kind, c.amount, at, rnd),
                },
                TokenData::MaxPowerLimit(_) => vendor.management(
                    Management::MaxPowerLimit {
                        watts: limit.ok_or("no limit literal")?,
                    },
                    at,
                    rnd,
                ),
                TokenData::MaxPhasePowerUnbalanceLimit(_) => vendor.management(
                    Management::MaxPhasePowerUnbalanceLimit {
                        watts: limit.ok_or("no limit literal")?,
                    },
                    at,
                    rnd,
                ),
                TokenData::ClearCredit(c) => vendor.management(
                    Management::ClearCredit {
                        register: c.register,
                    },
                    at,
                    rnd,
                ),
                TokenData::ClearTamper(_) => vendor.management(Management::ClearTamper, at, rnd),
                other => return Err(format!("stated inputs for {}", other.name())),
            }
            .map_err(|e| e.to_string())?;
            if made == token {
                return Ok(true);
            }
            tried.push(made.to_string());
        }
        Err(format!("vended {tried:?}"))
    }

    /// A fresh meter with this key accepts the token once and rejects the replay.
    fn meter(&self, data: &TokenData) -> Result<(), String> {
        // Class 1 is not encrypted: a meter with any key accepts it.
        let (cipher, key) = match self.cipher()? {
            Some(cipher) => (
                cipher,
                decoder_key(str_of(self.v, "decoder_key_hex").unwrap()),
            ),
            None => (
                TokenCipher::Sta(amikit_sts::cipher::Sta::new(0, &SAMPLE_TABLES)),
                DecoderKey::Bits64(0),
            ),
        };
        let mut config = MeterConfig::new(key, cipher.algorithm(), self.key_type(), self.base());
        if let TokenData::Credit(c) = data {
            config.commodity = c.kind;
        }
        let mut meter: Meter<'_, 50> =
            Meter::new(config, Some(self.tables)).map_err(|e| e.to_string())?;
        let token = self.token();
        let first = meter
            .enter(token, 0)
            .map_err(|e| format!("rejected: {e}"))?;
        ensure!(first.data == *data, "meter decoded {:?}", first.data);
        if let Some(tid) = data.tid() {
            let again = meter.enter(token, 1);
            ensure!(again == Err(Reject::Used { tid }), "replay gave {again:?}");
        } else if matches!(
            data,
            TokenData::KeyChange1(_)
                | TokenData::KeyChange2(_)
                | TokenData::KeyChange3(_)
                | TokenData::KeyChange4(_)
        ) {
            ensure!(
                matches!(first.action, Action::KeyChangePending { .. }),
                "one key section gave {:?}",
                first.action
            );
        }
        Ok(())
    }
}

/// The production STA tables when they were found; else the sample tables, which serve only where
/// the tables' values do not matter (class 1 tokens, the KT = 1 refusal) and EA07 vectors are
/// counted as not run.
#[derive(Clone, Copy)]
struct Tables<'a> {
    production: Option<&'a StaTables>,
}

impl Tables<'_> {
    fn any(&self) -> &StaTables {
        self.production.unwrap_or(&SAMPLE_TABLES)
    }
}

/// Whether the vector's token is enciphered with EA07 (STA), which needs the production tables.
fn needs_production_tables(v: &Value) -> bool {
    str_of(v, "encryption").and_then(algorithm) == Some(EncryptionAlgorithm::Sta)
}

fn token_vectors(report: &mut Report, list: &[Value], tables: Tables<'_>, tier: &'static str) {
    for v in list {
        let check = TokenCheck {
            v,
            tables: tables.any(),
        };
        let id = check.id().to_owned();
        let kind: &'static str = if tier == "sts531" {
            if id.starts_with("STS531-02") {
                "STS 531-1-0-02 compliance steps (DKGA02, EA07)"
            } else if id.starts_with("STS531-04") {
                "STS 531-1-0-04 compliance steps (DKGA04, EA11/EA07)"
            } else {
                "IEC 62055-41 worked example, production tables"
            }
        } else {
            "other-source tokens (tiers B/C, decode and re-encode)"
        };
        if tables.production.is_none() && needs_production_tables(v) {
            report.needs_tables(kind);
            continue;
        }
        let data = match check.decode() {
            Ok(d) => d,
            Err(e) => {
                report.check(kind, &id, Err(e));
                continue;
            }
        };
        // The key derivation of the vector, when stated.
        let derived = match (v.get("key_derivation"), check.cipher()) {
            (Some(kd), Ok(Some(cipher))) if kd.as_object().is_some_and(|o| !o.is_empty()) => {
                let key = decoder_key(str_of(v, "decoder_key_hex").unwrap());
                Some(
                    check_derivation(kd, cipher.algorithm(), "none").and_then(|d| {
                        if d == key {
                            Ok(())
                        } else {
                            Err(format!("derived key {} != {}", key_hex(&d), key_hex(&key)))
                        }
                    }),
                )
            }
            _ => None,
        };
        let derived_ok = derived.as_ref().is_some_and(Result::is_ok);
        let result = match derived {
            Some(Err(e)) => Err(e),
            _ => check.meter(&data),
        };
        if derived_ok {
            report.pass("token vectors whose decoder key was derived (DKGA02/DKGA04) and matched");
        }
        if result.is_ok() {
            report.pass(
                "token vectors accepted by a fresh meter (TID-bearing ones then rejected as USED)",
            );
        }
        match check.vend(&data) {
            Ok(true) => report.pass("token vectors vended again from the stated time and amount"),
            Ok(false) => {}
            Err(e) => report.failures.push(format!("vend: {id}: {e}")),
        }
        report.check(kind, &id, result);
    }
}

/// CTSA16: the vending side refuses credit for a KT = 1 meter, and such a meter rejects a
/// credit token made anyway.
fn default_key_refusal(v: &Value, tables: &StaTables) -> Result<(), String> {
    // Only the refusal is checked, so the sample tables do when the production ones are absent.
    let params = key_parameters(v, EncryptionAlgorithm::Sta)?;
    ensure!(params.kt == KeyType::Default, "not a default key");
    let vk = amikit_sts::dkga::VendingKey::new(
        amikit_sts::dkga::Dkga::Dkga02,
        &amikit_testkit::hex(str_of(v, "vending_key_hex").unwrap()),
    )
    .map_err(|e| e.to_string())?;
    let vendor = Vendor::for_meter(&vk, &params, Some(tables)).map_err(|e| e.to_string())?;
    let at = Issue::Tid(Tid::try_from(5_871_715).unwrap());
    let refused = vendor.credit(CreditKind::Electricity, 1, at, Rnd::default());
    ensure!(
        refused == Err(amikit_sts::error::VendError::DefaultKey),
        "vendor gave {refused:?}"
    );
    let forced = vendor
        .encode(&TokenData::Credit(amikit_sts::block::Credit {
            kind: CreditKind::Electricity,
            rnd: Rnd::default(),
            tid: Tid::try_from(5_871_715).unwrap(),
            amount: Amount::from(1),
        }))
        .map_err(|e| e.to_string())?;
    let key = vk.derive(&params).map_err(|e| e.to_string())?;
    let config = MeterConfig::from_parameters(key, &params);
    let mut meter: Meter<'_, 8> = Meter::new(config, Some(tables)).map_err(|e| e.to_string())?;
    let got = meter.enter(forced, 0);
    ensure!(
        got == Err(Reject::KeyTypeNotAllowed {
            kt: KeyType::Default
        }),
        "meter gave {got:?}"
    );
    Ok(())
}

fn block_vectors(
    report: &mut Report,
    list: &[Value],
    kind: &'static str,
    make: impl Fn(&str) -> Box<dyn Fn(u64, bool) -> u64>,
) {
    for v in list {
        let key = str_of(v, "key_hex").unwrap();
        if let Some(kp) = str_of(v, "extended_key_Kprime_hex") {
            // MISTY1 extended key K' of the RFC 2994 test key.
            let ours: String = Misty1::from_u128(hex_u128(key))
                .extended_key()
                .iter()
                .map(|w| format!("{w:04x}"))
                .collect();
            let result = if ours == kp {
                Ok(())
            } else {
                Err(format!("K' {ours} != {kp}"))
            };
            report.check(kind, key, result);
            continue;
        }
        let p = hex_u64(str_of(v, "plaintext_hex").unwrap());
        let c = hex_u64(str_of(v, "ciphertext_hex").unwrap());
        let cipher = make(key);
        let (enc, dec) = (cipher(p, true), cipher(c, false));
        let result = if enc == c && dec == p {
            Ok(())
        } else {
            Err(format!(
                "E({p:016x}) = {enc:016x}, D({c:016x}) = {dec:016x}"
            ))
        };
        report.check(kind, key, result);
    }
}

fn run(vectors: &Value, tables: Tables<'_>, report: &mut Report) {
    let arr = |k: &str| -> Vec<Value> {
        vectors[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k} missing"))
            .clone()
    };

    // Tokens.
    let sts531 = arr("token_vectors_sts531_and_standard_example");
    token_vectors(report, &sts531, tables, "sts531");
    let others = arr("token_vectors_other_sources");
    token_vectors(report, &others, tables, "other");
    let n02 = sts531
        .iter()
        .filter(|v| str_of(v, "id").unwrap().starts_with("STS531-02"))
        .count();
    let n04 = sts531
        .iter()
        .filter(|v| str_of(v, "id").unwrap().starts_with("STS531-04"))
        .count();
    report.expect_count("STS 531-1-0-02 compliance steps (DKGA02, EA07)", n02);
    report.expect_count("STS 531-1-0-04 compliance steps (DKGA04, EA11/EA07)", n04);
    report.expect_count(
        "IEC 62055-41 worked example, production tables",
        sts531.len() - n02 - n04,
    );
    report.expect_count(
        "other-source tokens (tiers B/C, decode and re-encode)",
        others.len(),
    );

    // Key derivations.
    for (kind, key, ea, algorithm) in [
        (
            "DKGA02 derivations",
            "dkga02_vectors",
            EncryptionAlgorithm::Sta,
            "DKGA02",
        ),
        (
            "DKGA04 derivations",
            "dkga04_vectors",
            EncryptionAlgorithm::Sta,
            "DKGA04",
        ),
    ] {
        let list = arr(key);
        for v in &list {
            let expected = decoder_key(str_of(v, "decoder_key_hex").unwrap());
            let mut result = check_derivation(v, ea, algorithm).and_then(|d| {
                if d == expected {
                    Ok(())
                } else {
                    Err(format!("{} != {}", key_hex(&d), key_hex(&expected)))
                }
            });
            // DKGA02: the stated DES input and output as well.
            if let (Ok(()), Some(input), Some(output)) = (
                &result,
                str_of(v, "des_input_pan_xor_cb_hex"),
                str_of(v, "des_output_hex"),
            ) {
                let vk = hex_u64(str_of(v, "vending_key_hex").unwrap());
                let out = Des::new(vk).encrypt(hex_u64(input));
                if out != hex_u64(output) {
                    result = Err(format!("DES output {out:016x} != {output}"));
                }
            }
            if let (Ok(()), Some(nectar), DecoderKey::Bits64(k)) = (
                &result,
                str_of(v, "decoder_key_hex_as_printed_by_nectar"),
                expected,
            ) && k.swap_bytes() != hex_u64(nectar)
            {
                result = Err("Nectar's byte-reversed form does not match".into());
            }
            // STS 531 CTSA16: a meter on its default key (KT = 1) gets no credit token.
            if num(v, "key_type") == Some(1) {
                report.check(
                    "STS 531 CTSA16: no credit for a default key (KT=1), vending and meter",
                    str_of(v, "first_seen_in").unwrap_or("?"),
                    default_key_refusal(v, tables.any()),
                );
            }
            report.check(kind, str_of(v, "first_seen_in").unwrap_or("?"), result);
        }
        report.expect_count(kind, list.len());
    }

    // Block ciphers.
    let sta = arr("sta_block_vectors_real_tables");
    let sta_kind = "STA block pairs, production tables";
    if let Some(production) = tables.production {
        block_vectors(report, &sta, sta_kind, |k| {
            let key = hex_u64(k);
            let tables = production.clone();
            Box::new(move |x, enc| {
                let sta = Sta::new(key, &tables);
                if enc { sta.encrypt(x) } else { sta.decrypt(x) }
            })
        });
    } else {
        sta.iter().for_each(|_| report.needs_tables(sta_kind));
    }
    report.expect_count(sta_kind, sta.len());
    let misty = arr("misty1_block_vectors");
    block_vectors(
        report,
        &misty,
        "MISTY1 block pairs (RFC 2994 and STS 531)",
        |k| {
            let m = Misty1::from_u128(hex_u128(k));
            Box::new(move |x, enc| if enc { m.encrypt(x) } else { m.decrypt(x) })
        },
    );
    report.expect_count("MISTY1 block pairs (RFC 2994 and STS 531)", misty.len());
    let des = arr("des_block_vectors");
    block_vectors(report, &des, "DES block pairs (FIPS 81, SP 800-17)", |k| {
        let d = Des::new(hex_u64(k));
        Box::new(move |x, enc| if enc { d.encrypt(x) } else { d.decrypt(x) })
    });
    report.expect_count("DES block pairs (FIPS 81, SP 800-17)", des.len());

    // The sample-table worked example.
    {
        let v = &vectors["sta_sample_table_worked_example"];
        let kind = "IEC 62055-41 worked example, sample tables";
        let result = (|| {
            let st = &v["sample_tables"];
            let to_vec = |k: &str| -> Vec<u8> {
                st[k]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as u8)
                    .collect()
            };
            let from_file =
                StaTables::from_slices(&to_vec("S1"), &to_vec("S2"), &to_vec("P")).unwrap();
            ensure!(
                from_file == SAMPLE_TABLES,
                "SAMPLE_TABLES differ from the stated tables"
            );
            let key = hex_u64(str_of(v, "decoder_key_hex").unwrap());
            let plain = hex_u64(str_of(v, "plaintext_block_hex").unwrap());
            let cipher = TokenCipher::Sta(amikit_sts::cipher::Sta::new(key, &SAMPLE_TABLES));
            let data = TokenData::parse(TokenClass::TRANSFER, plain).map_err(|e| e.to_string())?;
            let f = &v["plaintext_fields"];
            let TokenData::Credit(c) = data else {
                return Err("not a credit block".into());
            };
            ensure!(Some(u64::from(u8::from(c.rnd))) == num(f, "rnd"), "RND");
            ensure!(Some(u64::from(u32::from(c.tid))) == num(f, "tid"), "TID");
            ensure!(
                Some(u64::from(c.amount.value())) == num(f, "amount_tenths"),
                "amount"
            );
            ensure!(
                str_of(f, "tid_datetime").map(str::parse::<amikit_sts::tid::DateTime>)
                    == Some(Ok(c.tid.to_datetime(BaseDate::Y1993))),
                "TID date-time"
            );
            let enc = cipher.encrypt(plain);
            ensure!(
                enc == hex_u64(str_of(v, "ciphertext_block_hex").unwrap()),
                "ciphertext"
            );
            let token = cipher.encode(&data).map_err(|e| e.to_string())?;
            ensure!(
                token.to_string() == str_of(v, "token").unwrap(),
                "token {token}"
            );
            ensure!(
                u128::from(token) == hex_u128(str_of(v, "token_66bit_hex").unwrap()),
                "66-bit value"
            );
            // Vending from the stated inputs (25.6 kWh at 1996-03-25 13:55, RND 11).
            let vendor = Vendor::new(cipher, KeyType::Unique, BaseDate::Y1993);
            let at: DateTime = str_of(f, "tid_datetime").unwrap().parse().unwrap();
            let vended = vendor
                .credit(
                    CreditKind::Electricity,
                    256,
                    Issue::At(at),
                    Rnd::try_from(11).unwrap(),
                )
                .map_err(|e| e.to_string())?;
            ensure!(vended == token, "vended {vended}");
            // The same inputs with the production tables: only in the outside file (its source
            // is not a standard), which comes with the tables.
            if let Some(real) = v.get("same_inputs_with_real_tables") {
                let production = tables
                    .production
                    .ok_or("same_inputs_with_real_tables without the production tables")?;
                let real_token = TokenCipher::Sta(amikit_sts::cipher::Sta::new(key, production))
                    .encode(&data)
                    .map_err(|e| e.to_string())?;
                ensure!(
                    real_token.to_string() == str_of(real, "token").unwrap(),
                    "production-table token {real_token}"
                );
            }
            Ok(())
        })();
        report.check(kind, "worked example", result);
    }

    // CRC.
    let crcs = arr("crc_vectors");
    for v in &crcs {
        let input = amikit_testkit::hex(str_of(v, "crc_input_7bytes_hex").unwrap());
        let class = TokenClass::from_bits(input[0]);
        let first48 = input[1..].iter().fold(0u64, |a, &b| a << 8 | u64::from(b));
        let ours = crc::token_crc(class, first48);
        let expected = hex_u64(str_of(v, "crc_field_hex").unwrap()) as u16;
        let same_input = crc::crc_input(class, first48).as_slice() == input.as_slice();
        report.check(
            "CRC",
            str_of(v, "crc_input_7bytes_hex").unwrap(),
            if ours == expected && same_input {
                Ok(())
            } else {
                Err(format!("{ours:04x} != {expected:04x}"))
            },
        );
    }
    report.expect_count("CRC", crcs.len());

    // TID.
    let tids = arr("tid_vectors");
    for v in &tids {
        let at: DateTime = str_of(v, "datetime").unwrap().parse().unwrap();
        let base = BaseDate::from_year(num(v, "base").unwrap() as u16).unwrap();
        let result = (|| {
            let naive = Tid::from_datetime(&at, base);
            match (num(v, "tid"), num(v, "tid_issued")) {
                (Some(tid), _) if tid > u64::from(Tid::MAX) => {
                    ensure!(naive.is_err(), "{at} should roll over, got {naive:?}");
                    let minute_before = Tid::try_from(Tid::MAX).unwrap().to_datetime(base);
                    ensure!(
                        Tid::from_datetime(&minute_before, base).map(u32::from) == Ok(Tid::MAX),
                        "last valid minute"
                    );
                }
                (Some(tid), _) => {
                    ensure!(
                        naive.map(|t| u64::from(u32::from(t))) == Ok(tid),
                        "{naive:?} != {tid}"
                    );
                    ensure!(
                        Tid::try_from(tid as u32).unwrap().to_datetime(base) == at,
                        "TID {tid} back to {at}"
                    );
                }
                (None, Some(issued)) => {
                    let naive_expected = num(v, "naive_tid").unwrap();
                    ensure!(
                        naive.map(|t| u64::from(u32::from(t))) == Ok(naive_expected),
                        "naive {naive:?}"
                    );
                    let ours = Tid::for_issue(&at, base).map(|t| u64::from(u32::from(t)));
                    ensure!(ours == Ok(issued), "issued {ours:?} != {issued}");
                }
                _ => return Err("no expected TID".into()),
            }
            Ok(())
        })();
        report.check("TID", str_of(v, "datetime").unwrap(), result);
    }
    report.expect_count("TID", tids.len());

    // KEN rule: a meter with KEN k accepts TID >> 16 == k and rejects k + 1; 0xFF disables.
    {
        let rule = str_of(&vectors["ken_rule"], "rule").unwrap();
        let result = (|| {
            ensure!(
                rule.contains("(TID >> 16) > KEN"),
                "rule text changed: {rule}"
            );
            let key = 0x0ABC_12DE_F345_6789;
            let vendor = Vendor::new(
                TokenCipher::Sta(amikit_sts::cipher::Sta::new(key, &SAMPLE_TABLES)),
                KeyType::Unique,
                BaseDate::Y1993,
            );
            for ken in [0x10u8, 0xFF] {
                let mut config = MeterConfig::new(
                    DecoderKey::Bits64(key),
                    EncryptionAlgorithm::Sta,
                    KeyType::Unique,
                    BaseDate::Y1993,
                );
                config.ken = KeyExpiry(ken);
                let mut meter: Meter<'_, 8> = Meter::new(config, Some(&SAMPLE_TABLES)).unwrap();
                let credit = |tid: u32| {
                    vendor
                        .credit(
                            CreditKind::Electricity,
                            1,
                            Issue::Tid(Tid::try_from(tid).unwrap()),
                            Rnd::default(),
                        )
                        .unwrap()
                };
                ensure!(
                    meter.enter(credit(0x10_FFFF), 0).is_ok(),
                    "TID>>16 == KEN accepted"
                );
                let late = meter.enter(credit(0x11_0000), 0);
                if ken == 0xFF {
                    ensure!(late.is_ok(), "KEN 0xFF disables the check");
                } else {
                    ensure!(matches!(late, Err(Reject::KeyExpired { .. })), "{late:?}");
                }
            }
            Ok(())
        })();
        report.check("KEN rule", "ken_rule", result);
    }

    // PAN and Luhn.
    let pans = arr("pan_luhn_vectors");
    for v in &pans {
        let result = (|| {
            if let Some(bad) = str_of(v, "invalid_pan") {
                ensure!(bad.parse::<MeterPan>().is_err(), "{bad} accepted");
            } else if let Some(pan) = str_of(v, "pan") {
                let parsed: MeterPan = pan.parse().map_err(|e| format!("{e}"))?;
                ensure!(
                    Some(u64::from(parsed.check_digit())) == num(v, "check_digit"),
                    "check digit"
                );
                let rebuilt =
                    MeterPan::from_parts(str_of(v, "iin").unwrap(), str_of(v, "drn").unwrap())
                        .map_err(|e| format!("{e}"))?;
                ensure!(rebuilt == parsed, "from IIN and DRN");
            } else {
                let drn = str_of(v, "drn").unwrap();
                ensure!(luhn_valid(drn), "DRN {drn} Luhn");
                let digits: Vec<u8> = drn.bytes().map(|b| b - b'0').collect();
                let (body, last) = digits.split_at(digits.len() - 1);
                ensure!(luhn_check_digit(body) == last[0], "DRN check digit");
            }
            Ok(())
        })();
        report.check(
            "PAN/Luhn",
            str_of(v, "pan").or(str_of(v, "drn")).unwrap_or("?"),
            result,
        );
    }
    report.expect_count("PAN/Luhn", pans.len());

    // Amounts.
    let amounts = arr("amount_vectors_from_sts531_tokens");
    for v in &amounts {
        let raw = hex_u64(str_of(v, "amount_raw_hex").unwrap()) as u16;
        let a = Amount::from(raw);
        let value = num(v, "value_tenths").unwrap();
        let result = (|| {
            ensure!(u64::from(a.value()) == value, "value {}", a.value());
            ensure!(
                Some(u64::from(a.exponent())) == num(v, "exponent"),
                "exponent"
            );
            ensure!(
                Some(u64::from(a.mantissa())) == num(v, "mantissa"),
                "mantissa"
            );
            ensure!(Amount::from_value_ceil(value) == Ok(a), "encode {value}");
            // Each stated amount (kWh) rounds up to this code.
            for s in v["stated_amounts_in_test"].as_array().unwrap() {
                let tenths = parse_tenths(s.as_str().unwrap()).map_err(|e| e.to_string())?;
                ensure!(
                    Amount::from_value_ceil(tenths) == Ok(a),
                    "stated {s} → {tenths}"
                );
            }
            Ok(())
        })();
        report.check("amount", str_of(v, "amount_raw_hex").unwrap(), result);
    }
    report.expect_count("amount", amounts.len());
}

/// Adds the entries of the outside file that the in-repository file does not hold: list
/// entries not equal to one already there, keys of objects that are missing here (the worked
/// example's production-table result). Entries are copied unchanged between the files, so an
/// entry of both is checked once.
fn add_outside(vectors: &mut Value, outside: &Value) {
    let (Some(ours), Some(theirs)) = (vectors.as_object_mut(), outside.as_object()) else {
        panic!("both vector files are JSON objects");
    };
    for (key, their) in theirs {
        if key == "meta" {
            continue;
        }
        match (ours.get_mut(key), their) {
            (None, _) => {
                ours.insert(key.clone(), their.clone());
            }
            (Some(Value::Array(list)), Value::Array(extra)) => {
                for entry in extra {
                    if !list.contains(entry) {
                        list.push(entry.clone());
                    }
                }
            }
            (Some(Value::Object(object)), Value::Object(extra)) => {
                for (k, entry) in extra {
                    object.entry(k.clone()).or_insert_with(|| entry.clone());
                }
            }
            (Some(_), _) => panic!("{key}: the outside file has another shape"),
        }
    }
}

/// The in-repository file states how many entries each list holds; a truncated or hand-edited
/// file fails here instead of checking fewer vectors.
fn check_meta_counts(vectors: &Value) {
    let counts = vectors["meta"]["counts"]
        .as_object()
        .expect("meta.counts in tests/vectors/sts_vectors.json");
    for (key, n) in counts {
        let len = vectors[key]
            .as_array()
            .unwrap_or_else(|| panic!("meta.counts names {key}, which is not a list"));
        assert_eq!(n.as_u64(), Some(len.len() as u64), "meta.counts.{key}");
    }
    let lists = vectors
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v.is_array())
        .count();
    assert_eq!(counts.len(), lists, "meta.counts covers every list");
}

fn main() {
    let mut vectors: Value = serde_json::from_str(include_str!("vectors/sts_vectors.json"))
        .expect("tests/vectors/sts_vectors.json is JSON");
    check_meta_counts(&vectors);
    let outside_dir = amikit_testkit::vectors_path().join("sts");
    let production =
        amikit_testkit::load_json_if_present(TEST, "sts/sts_vectors.json").map(|outside| {
            add_outside(&mut vectors, &outside);
            let tables_json =
                amikit_testkit::load_json_if_present(TEST, "sts/sta_production_tables.json")
                    .expect("the vector folder is present");
            let table = |k: &str| -> Vec<u8> {
                tables_json[k]
                    .as_array()
                    .unwrap_or_else(|| panic!("{k} missing"))
                    .iter()
                    .map(|x| u8::try_from(x.as_u64().unwrap()).unwrap())
                    .collect()
            };
            StaTables::from_slices(&table("S1"), &table("S2"), &table("P"))
                .expect("the production tables are permutations")
        });

    let mut report = Report::default();
    run(
        &vectors,
        Tables {
            production: production.as_ref(),
        },
        &mut report,
    );

    let mut out = String::new();
    let sources = if production.is_some() {
        format!("tests/vectors and {}", outside_dir.display())
    } else {
        format!(
            "tests/vectors; no outside folder at {}",
            outside_dir.display()
        )
    };
    writeln!(out, "sts conformance ({sources}):").unwrap();
    for (kind, n) in &report.counts {
        writeln!(out, "  {n:5}  {kind}").unwrap();
    }
    for (kind, n) in &report.not_run {
        writeln!(
            out,
            "  {n:5}  not run: {kind}: EA07 needs the production STA tables (licensed STS \
             Association material, not redistributable; give the vector folder with \
             AMIKIT_VECTORS)"
        )
        .unwrap();
    }
    for f in &report.failures {
        writeln!(out, "  FAILED {f}").unwrap();
    }
    let passed: usize = report
        .counts
        .iter()
        .filter(|(k, _)| !k.starts_with("token vectors "))
        .map(|(_, n)| n)
        .sum();
    let not_run: usize = report.not_run.iter().map(|(_, n)| n).sum();
    writeln!(
        out,
        "conformance: {passed} passed, {} failed, {not_run} not run without the production STA tables",
        report.failures.len()
    )
    .unwrap();
    print!("{out}");
    if !report.failures.is_empty() {
        std::process::exit(1);
    }
}

/// A key as hex, for failure messages of this test only (keys have no `Display`).
fn key_hex(key: &DecoderKey) -> String {
    let mut buf = [0u8; 16];
    amikit_testkit::to_hex(key.to_bytes(&mut buf))
}
