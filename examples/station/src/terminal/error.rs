//! The terminal's error type: setting a terminal up from a site file, its meters and their
//! keys, and a token refused at a meter's keypad all report a [`TerminalError`].

use std::path::PathBuf;

use super::erc::TokenRejection;

/// A boxed error of one of the crates (or a message of the site file's checks).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in a simulated terminal.
#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    /// The site file could not be used (read, parsed, or stripped for the terminals).
    #[error("{0}")]
    Site(String),
    /// The site file lists no terminal at all.
    #[error("the site has no terminals")]
    NoTerminals,
    /// The site has no terminal with this A2.
    #[error("the site has no terminal with a2 {0}")]
    NoTerminal(u16),
    /// The terminal has no key: the master would refuse its login.
    #[error("terminal {0} has no key in the site file: the master would refuse its login")]
    NoKey(u16),
    /// The site's region (A1) is not four hex digits.
    #[error("region {0:?}")]
    Region(String),
    /// A meter names a tariff the site does not have.
    #[error("unknown tariff {0:?}")]
    UnknownTariff(String),
    /// A tariff file does not make a tariff set.
    #[error("tariff {}: {source}", .path.display())]
    Tariff {
        /// The tariff file.
        path: PathBuf,
        /// Why it was refused.
        source: BoxError,
    },
    /// A meter of the site cannot be built.
    #[error("meter {address} (pn {pn}): {what}: {source}")]
    Meter {
        /// The meter's address as the site file gives it.
        address: String,
        /// Its measurement point.
        pn: u16,
        /// The item of the meter (`opening_kwh`, `decoder key`, `engine`, …).
        what: &'static str,
        /// Why it was refused.
        source: BoxError,
    },
    /// An STS meter has neither its own decoder key nor a vending key to derive one from.
    #[error("meter {0}: STS parameters but no decoder key (and no vending key)")]
    NoDecoderKey(String),
    /// The STS key parameters or the vending key of the site do not load.
    #[error("{what}: {source}")]
    Sts {
        /// The item (`sts pan`, `vending key`, …).
        what: &'static str,
        /// Why it was refused.
        source: BoxError,
    },
    /// A scale run needs a remote-fee-control meter to copy.
    #[error("the base site has no remote-fee-control meter")]
    NoRemoteMeter,
    /// A `--noise` setting that does not parse (the part that does not).
    #[error(
        "noise: {0:?} is not off, light, burst or key=probability (keys garbage, flip, echo, \
         drop; a probability as 0.05 or 5%)"
    )]
    Noise(String),
    /// The master station's address (`--master`) does not resolve.
    #[error("--master {text}: {source}")]
    MasterAddress {
        /// The address as given.
        text: String,
        /// Why it does not resolve.
        source: BoxError,
    },
    /// A start time (`--start`) that is not a civil date-time.
    #[error("{0}")]
    StartTime(String),
    /// There is no meter at this measurement point.
    #[error("no meter at pn {0}")]
    NoMeter(u16),
    /// A token typed on a meter's keypad was refused.
    #[error("{detail}")]
    TokenRefused {
        /// The class of refusal the meter reports (its ERC event).
        reason: TokenRejection,
        /// What the meter says.
        detail: String,
    },
}

impl TerminalError {
    /// A meter item that was refused.
    pub(crate) fn meter(
        m: &crate::site::SiteMeter,
        what: &'static str,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::Meter {
            address: m.address.clone(),
            pn: m.pn,
            what,
            source: source.into(),
        }
    }

    /// An STS item that was refused.
    pub(crate) fn sts(what: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Sts {
            what,
            source: source.into(),
        }
    }
}

/// `map_err` for a refused item of meter `m`: `.map_err(at_meter(m, "opening_kwh"))`.
pub(crate) fn at_meter<'m, E: Into<BoxError>>(
    m: &'m crate::site::SiteMeter,
    what: &'static str,
) -> impl FnOnce(E) -> TerminalError + 'm {
    move |e| TerminalError::meter(m, what, e)
}

impl From<TerminalError> for String {
    /// The message, for the callers that report errors as text (the CLIs).
    fn from(e: TerminalError) -> Self {
        e.to_string()
    }
}
