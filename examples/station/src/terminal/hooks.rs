//! Fault hooks of the simulated meters: how a field that fights back bends what a meter reports
//! and how its relay obeys. Off by default ([`Hooks::default`] changes nothing); the chaos mode
//! (`crate::chaos`) plugs in its own [`FieldHooks`].

use std::sync::Arc;

use amikit_dlt645::Address;
use amikit_prepay::CommandKind;

use crate::clock::SimSeconds;

/// How a relay answers a command that reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayBehaviour {
    /// Acts at once (a healthy relay).
    Act,
    /// Confirms (`9C`) but does not move: a stuck relay, visible only in status word 3.
    Refuse,
    /// Confirms and acts this many simulated seconds later.
    Late(SimSeconds),
}

/// What a misbehaving field does to a meter. Every method's default is the healthy meter.
pub trait FieldHooks: Send + Sync + std::fmt::Debug {
    /// The forward active energy register (Wh) the meter reports when `true_wh` is what it
    /// measured.
    fn register(&self, meter: &Address, now: SimSeconds, true_wh: i64) -> i64 {
        let _ = (meter, now);
        true_wh
    }

    /// A relay command (`1C`, already authenticated and within its validity) reached the meter
    /// at `now`: how the relay behaves.
    fn relay_command(&self, meter: &Address, now: SimSeconds, kind: CommandKind) -> RelayBehaviour {
        let _ = (meter, now, kind);
        RelayBehaviour::Act
    }
}

/// The hooks of a terminal's meters: none (a healthy field) by default.
#[derive(Clone, Default)]
pub struct Hooks(Option<Arc<dyn FieldHooks>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Hooks(off)"),
            Some(h) => write!(f, "Hooks({h:?})"),
        }
    }
}

impl Hooks {
    /// Hooks that route every meter through `hooks`.
    pub fn new(hooks: Arc<dyn FieldHooks>) -> Self {
        Self(Some(hooks))
    }

    /// True when no hook is installed.
    pub fn is_off(&self) -> bool {
        self.0.is_none()
    }

    /// The register the meter reports.
    pub fn register(&self, meter: &Address, now: SimSeconds, true_wh: i64) -> i64 {
        self.0
            .as_ref()
            .map_or(true_wh, |h| h.register(meter, now, true_wh))
    }

    /// How the relay behaves.
    pub fn relay_command(
        &self,
        meter: &Address,
        now: SimSeconds,
        kind: CommandKind,
    ) -> RelayBehaviour {
        self.0
            .as_ref()
            .map_or(RelayBehaviour::Act, |h| h.relay_command(meter, now, kind))
    }
}
