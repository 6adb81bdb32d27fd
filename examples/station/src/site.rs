//! The deployment both examples read: terminals, the meters behind them, their customers,
//! tariffs, fee-control mode and STS key parameters (`examples/station/sites/*.toml`).
//!
//! The master station seeds its database from it on first start (customers, meters, tariffs,
//! opening balances); the terminal builds its simulated meters from it. Both therefore agree on
//! addresses and measurement points without any extra protocol.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use zeroize::Zeroizing;

/// The demo deployment, compiled in (the default of `--site`).
pub const DEMO_SITE: &str = include_str!("../sites/demo.toml");

/// A deployment: one region, the master-station address, tariffs and terminals.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// A1: administrative region code of every terminal (4 BCD digits as printed).
    pub region: String,
    /// MSA: the master station's address (1–127) in A3.
    pub msa: u8,
    /// Tariffs by name.
    pub tariffs: Vec<SiteTariff>,
    /// Terminals (concentrators) and their meters.
    pub terminals: Vec<SiteTerminal>,
    /// STS vending keys (master station only).
    #[serde(default)]
    pub vending: Option<Vending>,
    /// What the master station accepts as a payment.
    #[serde(default)]
    pub payments: PaymentRules,
    /// What the master station accepts as a register reading.
    #[serde(default)]
    pub readings: ReadingRules,
    /// STS rules both the vending side and the meters follow.
    #[serde(default)]
    pub sts: StsRules,
    /// Operators of the master station's API (`[[operators]] name, role, key_hash`; the key
    /// itself is never in the file: `master --hash-key` prints the line).
    #[serde(default)]
    pub operators: Vec<crate::master::auth::SiteOperator>,
}

/// What the master station accepts as a payment (`[payments]` in the site file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRules {
    /// Decimals of the currency's minor unit (2: yuan and fen); an amount with more decimals
    /// is refused.
    #[serde(default = "PaymentRules::default_minor_digits")]
    pub minor_unit_digits: u8,
    /// The largest amount of one payment or token, currency units as a decimal string.
    #[serde(default = "PaymentRules::default_max_amount")]
    pub max_amount: String,
}

impl PaymentRules {
    fn default_minor_digits() -> u8 {
        2
    }

    fn default_max_amount() -> String {
        "5000.00".into()
    }
}

impl Default for PaymentRules {
    fn default() -> Self {
        Self {
            minor_unit_digits: Self::default_minor_digits(),
            max_amount: Self::default_max_amount(),
        }
    }
}

/// STS rules of the site (`[sts]` in the site file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsRules {
    /// The money one unit of a currency token's amount is, a decimal string (default `0.01`,
    /// the fen). Tokens carry money in this unit; meters credit exactly amount × unit. IEC
    /// 62055-41 counts the amount in 0.00001 of a base currency unit the utility configures in
    /// its meters: `0.01` is a base unit of 1 000 (yuan); a site whose meters use the yuan as
    /// base unit would need 0.00001, finer than money's 0.0001 quantum, and is refused.
    #[serde(default = "StsRules::default_currency_unit")]
    pub currency_unit: String,
}

impl StsRules {
    fn default_currency_unit() -> String {
        "0.01".into()
    }

    /// The currency unit as money.
    ///
    /// # Errors
    /// When it is not a positive decimal.
    pub fn unit(&self) -> Result<amikit_tariff::Money, String> {
        let m = amikit_tariff::Money::parse(self.currency_unit.trim())
            .map_err(|e| format!("sts.currency_unit {:?}: {e}", self.currency_unit))?;
        if m.is_positive() {
            Ok(m)
        } else {
            Err("sts.currency_unit must be positive".into())
        }
    }
}

impl Default for StsRules {
    fn default() -> Self {
        Self {
            currency_unit: Self::default_currency_unit(),
        }
    }
}

/// What the master station accepts as a register reading (`[readings]` in the site file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingRules {
    /// The largest demand of a meter, kW as a decimal string, unless the meter names its own
    /// ([`SiteMeter::max_demand_kw`]): a reading more than this × the time since the last
    /// good reading (plus [`margin_kwh`](Self::margin_kwh)) above it is refused. The default,
    /// 40 kW, is a three-phase 380 V 60 A meter (√3 × 380 V × 60 A ≈ 39.5 kW).
    #[serde(default = "ReadingRules::default_max_demand")]
    pub max_demand_kw: String,
    /// Energy allowed on top of max demand × elapsed time (register resolution, clock skew),
    /// kWh as a decimal string.
    #[serde(default = "ReadingRules::default_margin")]
    pub margin_kwh: String,
}

impl ReadingRules {
    fn default_max_demand() -> String {
        "40".into()
    }

    fn default_margin() -> String {
        "1".into()
    }
}

impl Default for ReadingRules {
    fn default() -> Self {
        Self {
            max_demand_kw: Self::default_max_demand(),
            margin_kwh: Self::default_margin(),
        }
    }
}

/// A named tariff file (path relative to the workspace root, or absolute).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteTariff {
    /// The name meters refer to.
    pub name: String,
    /// The tariff definition file (TOML or JSON, see `amikit_tariff::def`).
    pub file: PathBuf,
}

/// A terminal and the meters behind it on its RS-485 bus.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteTerminal {
    /// A2: the terminal address (1–65535).
    pub a2: u16,
    /// The terminal's key, 32 hexadecimal digits: its identity and PW keys are derived from it
    /// ([`crate::keys`]). The master refuses every login of a terminal without one.
    #[serde(default)]
    pub key: Option<KeyText>,
    /// Its meters, one measurement point each.
    pub meters: Vec<SiteMeter>,
}

/// A secret written in the site file: `Debug` does not show it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct KeyText(pub String);

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyText(..)")
    }
}

impl Drop for KeyText {
    /// Wiped from memory when dropped, like [`Secret`].
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl SiteTerminal {
    /// The terminal's derived keys (`None` without a key; [`Site::parse`] checked its form).
    pub fn keys(&self) -> Option<crate::keys::TerminalKeys> {
        self.key
            .as_ref()
            .and_then(|k| crate::keys::TerminalKeys::from_hex(&k.0).ok())
    }
}

/// Who keeps the balance and switches the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeControl {
    /// The master station keeps the balance and sends trip / allow-close commands.
    Remote,
    /// The meter keeps its own balance (credit arrives as STS tokens) and switches itself.
    Local,
}

/// One meter, its measurement point and its customer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteMeter {
    /// Measurement point number on the terminal (pn, 1–2040).
    pub pn: u16,
    /// DL/T 645 address, 12 digits as printed.
    pub address: String,
    /// Customer name.
    pub customer: String,
    /// Where the SMS service sends notifications.
    #[serde(default)]
    pub phone: Option<String>,
    /// Tariff name (one of [`Site::tariffs`]).
    pub tariff: String,
    /// Remote (master station) or local (meter) fee control.
    pub fee_control: FeeControl,
    /// Opening balance, currency units as a decimal string.
    pub opening_balance: String,
    /// Energy register at the start, kWh as a decimal string.
    pub opening_kwh: String,
    /// Average load in watts (the simulated consumption).
    pub load_watts: u32,
    /// Reminder (alarm) threshold, currency units.
    pub alarm_threshold: String,
    /// Trip threshold, currency units.
    pub trip_threshold: String,
    /// Under guard (保电) from the start: never cut for lack of credit.
    #[serde(default)]
    pub guarded: bool,
    /// STS key parameters for meters with a token keypad.
    #[serde(default)]
    pub sts: Option<StsMeter>,
    /// Hoarding limit (囤积金额限值): the engine refuses a payment that would take the credit
    /// above it (currency units; none: no limit).
    #[serde(default)]
    pub hoarding_limit: Option<String>,
    /// This meter's maximum demand, kW (default: [`ReadingRules::max_demand_kw`]).
    #[serde(default)]
    pub max_demand_kw: Option<String>,
}

/// STS key parameters of a meter (IEC 62055-41).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StsMeter {
    /// Meter PAN, 18 digits with its Luhn check digit.
    pub pan: String,
    /// Supply group code, 6 digits.
    pub sgc: String,
    /// Tariff index, 2 digits.
    pub ti: String,
    /// Key revision number.
    pub krn: u8,
    /// Key type (2 = unique).
    pub kt: u8,
    /// Base date: 1993, 2014 or 2035.
    pub base_date: u16,
    /// The meter's decoder key, hex (what the meter was manufactured with). Filled in by
    /// [`Site::for_terminals`] from the vending key; a terminal-side site file may give it.
    #[serde(default)]
    pub decoder_key: Option<Secret>,
}

/// The vending side's secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vending {
    /// DKGA04 vending key, 40 hex digits.
    pub dkga04_key: Secret,
}

/// A secret read from the site file (a vending key, a meter's decoder key): wiped from memory
/// when dropped, printed by `Debug` as `Secret(..)`, with no `Display` or `Serialize`; error
/// messages about it never repeat it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// A secret holding `text`.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// Hex digits of `bytes`, as a secret.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut s = Zeroizing::new(String::with_capacity(bytes.len() * 2));
        for b in bytes {
            for nibble in [b >> 4, b & 0x0F] {
                s.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
            }
        }
        Self(s)
    }

    /// The secret's text (to hand it to the code that uses it, never to print it).
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }

    /// The secret as bytes from hex digits; `what` names it in the error, which never shows
    /// the secret.
    ///
    /// # Errors
    /// When it is not an even number of hex digits.
    pub fn hex_bytes(&self, what: &str) -> Result<Zeroizing<Vec<u8>>, String> {
        let t = self.0.trim();
        if !t.len().is_multiple_of(2) {
            return Err(format!("{what}: odd number of hex digits"));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(t.len() / 2));
        for i in (0..t.len()).step_by(2) {
            let b = t
                .get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("{what}: not hexadecimal"))?;
            out.push(b);
        }
        Ok(out)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

impl Site {
    /// Parses a site file's text and checks it for consistency. A syntax error names its
    /// line, without quoting the file (which holds keys).
    pub fn parse(text: &str) -> Result<Self, String> {
        let site: Site = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .and_then(|s| text.get(..s.start))
                .map_or(0, |before| before.matches('\n').count() + 1);
            format!("site file, line {line}: {}", e.message())
        })?;
        site.check()?;
        Ok(site)
    }

    /// What the terminals may know of the site: no vending key and no operators; each STS
    /// meter carries instead its own decoder key (derived here, DKGA04, when missing), which is
    /// all a meter's decoder needs.
    ///
    /// # Errors
    /// When the vending key or a meter's key parameters are unusable (the message never shows
    /// a key).
    pub fn for_terminals(&self) -> Result<Site, String> {
        let mut out = self.clone();
        let key = match &self.vending {
            Some(v) => Some(
                amikit_sts::dkga::VendingKey::new(
                    amikit_sts::dkga::Dkga::Dkga04,
                    &v.dkga04_key.hex_bytes("vending key")?,
                )
                .map_err(|e| format!("vending key: {e}"))?,
            ),
            None => None,
        };
        for t in &mut out.terminals {
            for m in &mut t.meters {
                let (Some(sts), Some(key)) = (m.sts.as_mut(), key.as_ref()) else {
                    continue;
                };
                if sts.decoder_key.is_some() {
                    continue;
                }
                let params = crate::terminal::meter::key_parameters(sts)
                    .map_err(|e| format!("meter {}: {e}", m.address))?;
                let dk = key
                    .derive(&params)
                    .map_err(|e| format!("meter {}: decoder key: {e}", m.address))?;
                let mut buf = Zeroizing::new([0u8; 16]);
                sts.decoder_key = Some(Secret::from_bytes(dk.to_bytes(&mut buf)));
            }
        }
        out.vending = None;
        out.operators.clear();
        Ok(out)
    }

    /// Reads and parses a site file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read site file {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// The compiled-in demo site.
    pub fn demo() -> Self {
        match Self::parse(DEMO_SITE) {
            Ok(site) => site,
            Err(e) => unreachable_site(&e),
        }
    }

    /// All meters with the A2 of their terminal.
    pub fn meters(&self) -> impl Iterator<Item = (u16, &SiteMeter)> {
        self.terminals
            .iter()
            .flat_map(|t| t.meters.iter().map(move |m| (t.a2, m)))
    }

    /// The tariff file of a tariff name, resolved against `root`.
    pub fn tariff_path(&self, name: &str, root: &Path) -> Option<PathBuf> {
        let t = self.tariffs.iter().find(|t| t.name == name)?;
        Some(if t.file.is_absolute() {
            t.file.clone()
        } else {
            root.join(&t.file)
        })
    }

    fn check(&self) -> Result<(), String> {
        self.sts.unit()?;
        if self.region.len() != 4 || !self.region.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("region {:?} is not 4 decimal digits", self.region));
        }
        if !(1..=127).contains(&self.msa) {
            return Err(format!("msa {} is not 1–127", self.msa));
        }
        let mut terminals = BTreeSet::new();
        let mut addresses = BTreeSet::new();
        for t in &self.terminals {
            if t.a2 == 0 || !terminals.insert(t.a2) {
                return Err(format!("terminal a2 {} is zero or repeated", t.a2));
            }
            if let Some(k) = &t.key {
                crate::keys::TerminalKeys::from_hex(&k.0)
                    .map_err(|e| format!("terminal {}: {e}", t.a2))?;
            }
            let mut pns = BTreeSet::new();
            for m in &t.meters {
                if m.pn == 0 || !pns.insert(m.pn) {
                    return Err(format!(
                        "terminal {}: pn {} is zero or repeated",
                        t.a2, m.pn
                    ));
                }
                if m.address.len() != 12 || !m.address.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("meter address {:?} is not 12 digits", m.address));
                }
                if !addresses.insert(m.address.clone()) {
                    return Err(format!("meter address {} is repeated", m.address));
                }
                if !self.tariffs.iter().any(|x| x.name == m.tariff) {
                    return Err(format!(
                        "meter {}: unknown tariff {:?}",
                        m.address, m.tariff
                    ));
                }
                if m.fee_control == FeeControl::Local && m.sts.is_none() {
                    return Err(format!(
                        "meter {}: local fee control needs sts parameters",
                        m.address
                    ));
                }
            }
        }
        Ok(())
    }
}

#[allow(clippy::panic)] // the compiled-in demo site is checked by a unit test
fn unreachable_site(e: &str) -> ! {
    panic!("the compiled-in demo site is invalid: {e}")
}

/// Reads a tariff file (JSON by extension, TOML otherwise) and checks that it validates; both
/// the master station and the terminal load tariffs through here.
pub fn read_tariff_file(path: &Path) -> Result<amikit_tariff::def::TariffDef, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read tariff file {}: {e}", path.display()))?;
    let def: amikit_tariff::def::TariffDef = if path.extension().is_some_and(|x| x == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    amikit_tariff::TariffSet::try_from(&def).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(def)
}

/// The workspace root (where `examples/` lives), for resolving relative paths in site files.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_site_parses_and_its_tariffs_exist() {
        let site = Site::demo();
        assert_eq!(site.meters().count(), 5);
        for (_, m) in site.meters() {
            let path = site.tariff_path(&m.tariff, &workspace_root()).unwrap();
            assert!(path.is_file(), "{}", path.display());
        }
    }

    #[test]
    fn currency_unit_finer_than_money_is_refused() {
        let unit = |u: &str| {
            StsRules {
                currency_unit: u.into(),
            }
            .unit()
        };
        assert_eq!(
            unit("0.01").unwrap(),
            amikit_tariff::Money::parse("0.01").unwrap()
        );
        assert!(unit("0.0001").is_ok());
        // IEC 62055-41's 0.00001 of a yuan base unit cannot be held in money's 0.0001 quantum.
        assert!(unit("0.00001").is_err());
        assert!(unit("0").is_err());
        assert!(unit("-0.01").is_err());
    }

    const DEMO_KEY: &str = "abababababababab949494949494949401234567";

    #[test]
    fn keys_never_show_in_debug_errors_or_the_terminals_site() {
        let site = Site::demo();
        assert!(DEMO_SITE.contains(DEMO_KEY));
        let debug = format!("{site:?}");
        assert!(!debug.contains(DEMO_KEY), "the vending key in Debug");
        assert!(debug.contains("Secret(..)"));
        // The terminals' site: no vending key, a decoder key per STS meter, none printed.
        let t = site.for_terminals().unwrap();
        assert!(t.vending.is_none());
        let mut keys = Vec::new();
        for (_, m) in t.meters() {
            if let Some(sts) = &m.sts {
                let k = sts.decoder_key.as_ref().unwrap();
                assert_eq!(k.hex_bytes("k").unwrap().len(), 16);
                keys.push(k.expose().to_string());
            }
        }
        assert!(!keys.is_empty());
        let debug = format!("{t:?}");
        assert!(!debug.contains(DEMO_KEY));
        for k in &keys {
            assert!(!debug.contains(k.as_str()), "a decoder key in Debug");
        }
        // Idempotent: the terminals' site again gives the same keys.
        let again = t.for_terminals().unwrap();
        let keys2: Vec<String> = again
            .meters()
            .filter_map(|(_, m)| {
                m.sts
                    .as_ref()?
                    .decoder_key
                    .as_ref()
                    .map(|k| k.expose().to_string())
            })
            .collect();
        assert_eq!(keys, keys2);
        // A site file error near the key does not quote it.
        let bad = DEMO_SITE.replace(
            &format!("dkga04_key = \"{DEMO_KEY}\""),
            &format!("dkga04_key = \"{DEMO_KEY}"),
        );
        let err = Site::parse(&bad).unwrap_err();
        assert!(!err.contains(DEMO_KEY), "{err}");
        assert!(err.contains("line"), "{err}");
        let bad = DEMO_SITE.replace(DEMO_KEY, "zz");
        let err = Site::parse(&bad).unwrap().for_terminals().unwrap_err();
        assert!(!err.contains("zz"), "{err}");
    }

    #[test]
    fn inconsistent_sites_are_refused() {
        let bad = DEMO_SITE.replace("pn = 2", "pn = 1");
        assert!(Site::parse(&bad).unwrap_err().contains("pn 1"));
        let bad = DEMO_SITE.replace("region = \"4403\"", "region = \"44A3\"");
        assert!(Site::parse(&bad).is_err());
    }
}
