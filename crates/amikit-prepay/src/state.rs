//! The credit state (the State Grid 本地费控 status ladder, shared by every profile).

/// Where the customer's credit stands, least severe first (`payment-domain.md` §2.3:
/// NoAlarm < Alarm1 < Alarm2 < OvrZero < OvrTick). See [`Limits`](crate::Limits) for the
/// thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum CreditState {
    /// Above alarm 1 (NoAlarm).
    #[default]
    Normal,
    /// At or below alarm 1: warning (Alarm1, low credit).
    Low,
    /// At or below alarm 2: cut, restorable by the customer (Alarm2).
    Alarm2,
    /// At or below zero, above the overdraft limit: cut until the customer selects the
    /// overdraft / emergency credit, or running on it (OvrZero).
    Zero,
    /// At or below the overdraft limit: hard cut until a top-up passes the reconnect threshold
    /// (OvrTick).
    Exhausted,
}

impl CreditState {
    /// A short lower-case name.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::Low => "low",
            Self::Alarm2 => "alarm2",
            Self::Zero => "zero",
            Self::Exhausted => "exhausted",
        }
    }

    pub(crate) const fn code(self) -> u8 {
        self as u8
    }

    pub(crate) const fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => Self::Normal,
            1 => Self::Low,
            2 => Self::Alarm2,
            3 => Self::Zero,
            4 => Self::Exhausted,
            _ => return None,
        })
    }
}

named!(CreditState);
