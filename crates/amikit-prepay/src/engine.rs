//! The account/supply engine: one sans-IO state machine for every profile.

use amikit_tariff::{Energy, Money};

use crate::command::{Command, CommandKind, CommandReason};
use crate::config::{Actuation, Config, ConfigError, Reconnect};
use crate::input::{Input, InputKind, Param, PurchaseId, Remote, TopUpSource, UserAction};
use crate::output::{
    AlarmLevel, Cause, Causes, CloseReason, Notification, Output, Record, Rejection, RelayAction,
    RelayState,
};
use crate::pricer::{PriceError, Pricer};
use crate::sink::Sink;
use crate::snapshot::{Charging, Snapshot, flags};
use crate::state::CreditState;
use crate::time::Timestamp;

/// One engine step never emits more outputs than this; a `heapless::Vec<Output, MAX_OUTPUTS>`
/// ([`Outputs`]) always has room.
pub const MAX_OUTPUTS: usize = 16;

/// A fixed-capacity output buffer for one step.
pub type Outputs = heapless::Vec<Output, MAX_OUTPUTS>;

/// The dynamic state (everything but the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    balance: Money,
    debt: Money,
    last_order: u64,
    last_persist: Timestamp,
    over_since: Option<Timestamp>,
    overload_until: Option<Timestamp>,
    last_sequence: u32,
    generation: u32,
    credit: CreditState,
    relay: RelayState,
    flags: u8,
    /// Effective causes after the previous step.
    causes: Causes,
    /// Alarm indication after the previous step.
    alarm: Option<AlarmLevel>,
    /// Inside a friendly window at the previous step.
    friendly: bool,
    /// Money changed since the last snapshot.
    dirty: bool,
    /// Powered down: only a power-up is accepted.
    down: bool,
}

/// How the current input wants the relay treated when a cause is lifted.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Leaving the hard cut is evaluated (top-ups and parameter changes only).
    may_exit_exhausted: bool,
    /// A fee cut lifted by this input needs the customer to close.
    fee_manual: bool,
    /// A remote trip lifted by this input needs the customer to close (allow-close).
    remote_manual: bool,
    /// Close an open or armed relay if no cause is left, for this reason.
    force: Option<CloseReason>,
    /// The reason for an automatic close caused by this input.
    reason: CloseReason,
    /// Persist after this input.
    important: bool,
    /// Overload tripped in this step (no reclose in the same step).
    overload_tripped: bool,
    /// A guard command to pass on (master-station profile).
    guard_command: Option<CommandKind>,
    /// Persistent flags before the input (after a power-up: the restored ones).
    flags_before: u8,
    /// Emergency credit was selectable before the input.
    was_selectable: bool,
    /// Master station: the meter reported the customer's close; emit no command for it.
    reported_close: bool,
    /// An accepted top-up: causes may only be lifted, never added, in this step.
    top_up: bool,
    /// The relay was observed in the wrong position: re-issue the action it should be in.
    reissue: bool,
}

/// The charge-control engine: balance, credit state, relay causes, guard, emergency and friendly
/// credit, overload, anti-replay — decided from inputs, with no I/O and no clock.
///
/// Every step is [`Engine::handle`]`(now, input, pricer, sink)`: `now` is the caller's local time,
/// `pricer` prices consumption through `amikit-tariff`, and the decisions go into `sink` in this
/// order: rejections and records of the input, credit-state records, a
/// [`Persist`](Output::Persist) request, then the relay action (or command), the alarm, and
/// notifications — so a caller that carries them out in order persists before it switches.
///
/// A refused input ([`Output::Reject`]) changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    config: Config,
    s: State,
}

/// A view of an [`Engine`]'s state at one moment ([`Engine::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
    /// The wallet; never below minus the overdraft limit.
    pub balance: Money,
    /// Debt not covered by the wallet (usage while the wallet was at its floor).
    pub debt: Money,
    /// Credit net of debt: `balance − debt` (what the account is worth), saturating.
    pub net: Money,
    /// The credit the thresholds apply to: `net` with
    /// [`DebtRecovery::All`](crate::DebtRecovery::All) (the debt is owed now), the wallet
    /// (`balance`) with a partial debt-recovery policy (the debt is arrears collected from
    /// top-ups).
    pub available: Money,
    /// The credit state.
    pub credit: CreditState,
    /// The relay (for the master-station profile: the state last commanded).
    pub relay: RelayState,
    /// The causes currently keeping the relay open (after guard and friendly suppression).
    pub causes: Causes,
    /// Whether guard (保电) is on.
    pub guarded: bool,
    /// Whether a remote trip is in force (it may be suppressed by guard).
    pub remote_trip: bool,
    /// Whether the overdraft / emergency credit is in use (selected, or automatic in this
    /// profile).
    pub overdraft_in_use: bool,
    /// Whether the customer could select the overdraft / emergency credit now.
    pub emergency_selectable: bool,
    /// The alarm indication.
    pub alarm: Option<AlarmLevel>,
    /// Whether the previous step was inside a friendly-credit window.
    pub friendly: bool,
    /// The last accepted purchase count.
    pub last_sequence: u32,
    /// The last accepted order number.
    pub last_order: u64,
    /// While an overload trip is in force: when it lets the relay reclose.
    pub overload_until: Option<Timestamp>,
    /// Whether the engine was powered down ([`Input::PowerDown`]) and waits for
    /// [`Input::PowerUp`].
    pub powered_down: bool,
}

impl Engine {
    /// An engine with `balance` opening credit (below minus the overdraft limit the excess is
    /// debt), the relay closed and no purchases yet. The first
    /// step (e.g. [`Input::Tick`]) emits the relay action and alarm the opening credit calls for.
    ///
    /// # Errors
    ///
    /// When `config` is invalid.
    pub fn new(config: Config, balance: Money) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut e = Self {
            config,
            s: State {
                balance,
                debt: Money::ZERO,
                last_order: 0,
                last_persist: Timestamp(i64::MIN),
                over_since: None,
                overload_until: None,
                last_sequence: 0,
                generation: 0,
                credit: CreditState::Normal,
                relay: RelayState::Closed,
                flags: 0,
                causes: Causes::NONE,
                alarm: None,
                friendly: false,
                dirty: false,
                down: false,
            },
        };
        // An opening debt beyond the overdraft limit is debt, not wallet.
        if let Ok((balance, debt)) = e.clamp_to_floor(&e.config, balance, Money::ZERO) {
            e.s.balance = balance;
            e.s.debt = debt;
        }
        e.s.credit = e.classify(e.available());
        Ok(e)
    }

    /// Sets the last accepted purchase count and order number (an account opened elsewhere).
    #[must_use]
    pub const fn with_purchases(mut self, last_sequence: u32, last_order: u64) -> Self {
        self.s.last_sequence = last_sequence;
        self.s.last_order = last_order;
        self
    }

    /// The configuration.
    #[must_use]
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// What the engine knows now: balance, debt, credit state, relay, causes, flags and
    /// purchase counters, in one plain value.
    #[must_use]
    pub fn status(&self) -> Status {
        Status {
            balance: self.s.balance,
            debt: self.s.debt,
            net: self.net(),
            available: self.available(),
            credit: self.s.credit,
            relay: self.s.relay,
            causes: self.s.causes,
            guarded: self.guarded(),
            remote_trip: self.remote_trip(),
            overdraft_in_use: self.overdraft_in_use(),
            emergency_selectable: self.emergency_selectable(),
            alarm: self.s.alarm,
            friendly: self.s.friendly,
            last_sequence: self.s.last_sequence,
            last_order: self.s.last_order,
            overload_until: self.s.overload_until,
            powered_down: self.s.down,
        }
    }

    /// Credit net of debt: `balance − debt`.
    const fn net(&self) -> Money {
        Money::from_raw(self.s.balance.raw().saturating_sub(self.s.debt.raw()))
    }

    /// The credit the thresholds apply to (see [`Status::available`]).
    const fn available(&self) -> Money {
        self.available_of(&self.s)
    }

    const fn available_of(&self, s: &State) -> Money {
        self.available_with(s.balance, s.debt)
    }

    const fn available_with(&self, balance: Money, debt: Money) -> Money {
        if self
            .config
            .policy
            .debt_recovery
            .debt_counts_against_credit()
        {
            Money::from_raw(balance.raw().saturating_sub(debt.raw()))
        } else {
            balance
        }
    }

    const fn guarded(&self) -> bool {
        self.s.flags & flags::GUARD != 0
    }

    const fn remote_trip(&self) -> bool {
        self.s.flags & flags::REMOTE_TRIP != 0
    }

    fn overdraft_in_use(&self) -> bool {
        self.overdraft_limit().is_positive()
            && (self.s.flags & flags::OVERDRAFT_SELECTED != 0
                || !self.config.policy.overdraft_needs_selection)
    }

    fn emergency_selectable(&self) -> bool {
        self.emergency_selectable_in(&self.s)
    }

    /// The persistent state as a sealed snapshot taken at `now`, with `pricer`'s charging
    /// state ([`Pricer::charging`]): what [`Output::Persist`] carries. Pass
    /// [`NoCharge`](crate::NoCharge) for a snapshot without a charging state.
    #[must_use]
    pub fn snapshot<P: Pricer + ?Sized>(&self, now: Timestamp, pricer: &P) -> Snapshot {
        let charging: Option<Charging> = pricer.charging();
        Snapshot {
            generation: self.s.generation,
            taken_at: now,
            balance: self.s.balance,
            debt: self.s.debt,
            credit: self.s.credit,
            relay: self.s.relay,
            flags: self.s.flags,
            alarm: self.s.alarm,
            last_sequence: self.s.last_sequence,
            last_order: self.s.last_order,
            overload_until: self.s.overload_until,
            charging,
            checksum: 0,
        }
        .sealed()
    }

    /// Handles one input at `now` and returns the outputs (see [`Engine::handle`]).
    pub fn step<P: Pricer + ?Sized>(
        &mut self,
        now: Timestamp,
        input: Input,
        pricer: &mut P,
    ) -> Outputs {
        let mut out = Outputs::new();
        self.handle(now, input, pricer, &mut out);
        out
    }

    /// Handles one input at `now`, pricing consumption with `pricer`, and puts the decisions
    /// into `sink` (at most [`MAX_OUTPUTS`]).
    pub fn handle<P: Pricer + ?Sized, S: Sink<Output>>(
        &mut self,
        now: Timestamp,
        input: Input,
        pricer: &mut P,
        sink: &mut S,
    ) {
        let kind = InputKind::from(&input);
        if self.s.down && !matches!(input, Input::PowerUp(_)) {
            sink.push(Output::Reject {
                input: kind,
                reason: Rejection::PoweredDown,
            });
            return;
        }
        let mut step = Step {
            may_exit_exhausted: false,
            fee_manual: self.config.policy.reconnect == Reconnect::Manual,
            remote_manual: false,
            force: None,
            reason: CloseReason::Payment,
            important: false,
            overload_tripped: false,
            guard_command: None,
            flags_before: self.s.flags,
            was_selectable: self.emergency_selectable(),
            reported_close: false,
            top_up: false,
            reissue: false,
        };
        let result = match input {
            Input::Consume { energy } => self.consume(now, energy, pricer, sink),
            Input::Charge { amount } => {
                if amount.is_negative() {
                    Err(Rejection::InvalidAmount)
                } else {
                    self.charge(amount, sink)
                }
            }
            Input::TopUp { amount, id, source } => self.top_up(amount, id, source, &mut step, sink),
            Input::Refund { amount, id } => self.refund(amount, id, &mut step, sink),
            Input::Tick => match pricer.standing(now) {
                Ok(amount) if amount.is_negative() => Err(Rejection::Price(PriceError::Negative)),
                Ok(amount) => self.charge(amount, sink),
                Err(e) => Err(Rejection::Price(e)),
            },
            Input::User(a) => {
                self.user(a, &mut step, sink);
                Ok(())
            }
            Input::Remote(r) => self.remote(now, r, &mut step, sink),
            Input::Load { watts } => {
                self.load(now, watts, &mut step, sink);
                Ok(())
            }
            Input::SetParam(p) => self.set_param(p, &mut step, sink),
            Input::PowerUp(snap) => self.power_up(now, &snap, &mut step, pricer, sink),
            Input::PowerDown => {
                self.power_down(now, pricer, sink);
                return;
            }
            Input::RelayPosition { closed } => {
                self.relay_position(closed, &mut step, sink);
                Ok(())
            }
        };
        match result {
            Ok(()) => {
                pricer.commit();
                self.finish(now, &step, pricer, sink);
            }
            Err(reason) => {
                // Refused: nothing changes, the pricer's tentative charges included. Every
                // refusal above happens before the input changes the state (the property tests
                // and the fuzz target check that a refused input leaves the engine equal).
                pricer.rollback();
                sink.push(Output::Reject {
                    input: kind,
                    reason,
                });
            }
        }
    }

    // ---- money -------------------------------------------------------------------------

    fn overdraft_limit(&self) -> Money {
        self.config.limits.overdraft.unwrap_or(Money::ZERO)
    }

    /// Credit at or below this may select emergency credit: max(0, EC threshold).
    fn offer_level(&self) -> Money {
        self.config
            .limits
            .emergency_threshold
            .unwrap_or(Money::ZERO)
            .max(Money::ZERO)
    }

    /// The lowest the wallet goes by consumption: minus the overdraft limit. Whether the
    /// customer may *use* the overdraft (relay closed below zero) is decided by the credit
    /// state and the selection, not here; consumption beyond the limit (guard, friendly credit,
    /// the last quantum before a trip, a master station's late readings) becomes debt.
    fn floor(&self) -> Money {
        Money::from_raw(self.overdraft_limit().raw().saturating_neg())
    }

    fn consume<P: Pricer + ?Sized, S: Sink<Output>>(
        &mut self,
        now: Timestamp,
        energy: Energy,
        pricer: &mut P,
        sink: &mut S,
    ) -> Result<(), Rejection> {
        if energy.is_negative() {
            return Err(Rejection::NegativeEnergy);
        }
        let cost = pricer.price(now, energy).map_err(Rejection::Price)?;
        if cost.is_negative() {
            return Err(Rejection::Price(PriceError::Negative));
        }
        self.charge(cost, sink)
    }

    /// Takes `cost` (≥ 0) from the wallet down to its floor; the rest becomes debt.
    fn charge<S: Sink<Output>>(&mut self, cost: Money, sink: &mut S) -> Result<(), Rejection> {
        if cost.is_zero() {
            return Ok(());
        }
        let room = self
            .s
            .balance
            .checked_sub(self.floor())
            .map_err(|_| Rejection::Overflow)?
            .max(Money::ZERO);
        let from_balance = cost.min(room);
        let to_debt = cost
            .checked_sub(from_balance)
            .map_err(|_| Rejection::Overflow)?;
        let balance = self
            .s
            .balance
            .checked_sub(from_balance)
            .map_err(|_| Rejection::Overflow)?;
        let debt = self
            .s
            .debt
            .checked_add(to_debt)
            .map_err(|_| Rejection::Overflow)?;
        // net must stay representable
        balance.checked_sub(debt).map_err(|_| Rejection::Overflow)?;
        self.s.balance = balance;
        self.s.debt = debt;
        self.s.dirty = true;
        if to_debt.is_positive() {
            sink.push(Output::Record(Record::DebtAccrued {
                amount: to_debt,
                debt,
            }));
        }
        Ok(())
    }

    fn check_id(&self, id: PurchaseId) -> Result<(), Rejection> {
        match id {
            PurchaseId::Sequence(n) => {
                if n <= self.s.last_sequence {
                    return Err(Rejection::Replayed(id));
                }
                let expected = self.s.last_sequence.saturating_add(1);
                if n != expected {
                    return Err(Rejection::OutOfSequence { expected, got: n });
                }
            }
            PurchaseId::Order(o) => {
                if o <= self.s.last_order {
                    return Err(Rejection::Replayed(id));
                }
            }
        }
        Ok(())
    }

    fn accept_id(&mut self, id: PurchaseId) {
        match id {
            PurchaseId::Sequence(n) => self.s.last_sequence = n,
            PurchaseId::Order(o) => self.s.last_order = o,
        }
    }

    fn top_up<S: Sink<Output>>(
        &mut self,
        amount: Money,
        id: PurchaseId,
        source: TopUpSource,
        step: &mut Step,
        sink: &mut S,
    ) -> Result<(), Rejection> {
        self.check_id(id)?;
        if !amount.is_positive() {
            return Err(Rejection::InvalidAmount);
        }
        // The debt-recovery policy decides how much of it repays debt; the rest is credit.
        let repaid = self
            .config
            .policy
            .debt_recovery
            .repayment(amount, self.s.debt);
        let debt = self
            .s
            .debt
            .checked_sub(repaid)
            .map_err(|_| Rejection::Overflow)?;
        let balance = self
            .s
            .balance
            .checked_add(
                amount
                    .checked_sub(repaid)
                    .map_err(|_| Rejection::Overflow)?,
            )
            .map_err(|_| Rejection::Overflow)?;
        balance.checked_sub(debt).map_err(|_| Rejection::Overflow)?;
        // The hoarding limit applies to the credit the thresholds see, after the top-up.
        let net = self.available_with(balance, debt);
        if let Some(limit) = self.config.limits.hoarding
            && net > limit
        {
            return Err(Rejection::Hoarding { limit });
        }
        self.s.balance = balance;
        self.s.debt = debt;
        self.accept_id(id);
        step.may_exit_exhausted = true;
        step.important = true;
        step.top_up = true;
        step.reason = CloseReason::Payment;
        if source.is_local() && self.config.policy.local_top_up_closes {
            step.fee_manual = false;
            step.force = Some(CloseReason::Payment);
        }
        sink.push(Output::Record(Record::TopUp {
            amount,
            id,
            source,
            repaid,
            debt,
            net,
        }));
        sink.push(Output::Notify(Notification::PaymentReceived {
            amount,
            net,
        }));
        Ok(())
    }

    fn refund<S: Sink<Output>>(
        &mut self,
        amount: Money,
        id: PurchaseId,
        step: &mut Step,
        sink: &mut S,
    ) -> Result<(), Rejection> {
        self.check_id(id)?;
        if !amount.is_positive() {
            return Err(Rejection::InvalidAmount);
        }
        if amount > self.net() {
            return Err(Rejection::InsufficientCredit);
        }
        let balance = self
            .s
            .balance
            .checked_sub(amount)
            .map_err(|_| Rejection::Overflow)?;
        self.s.balance = balance;
        self.accept_id(id);
        step.important = true;
        sink.push(Output::Record(Record::Refund {
            amount,
            id,
            net: self.available(),
        }));
        Ok(())
    }

    // ---- the customer, remote commands, load, parameters, power-up ---------------------

    fn user<S: Sink<Output>>(&mut self, _action: UserAction, step: &mut Step, sink: &mut S) {
        if self.config.policy.actuation == Actuation::Commands {
            // Master station: the meter reported that its customer closed an allowed relay.
            // Nothing is released here (a remote fee cut is not the customer's to lift), and
            // no command is due for a close that already happened.
            if self.s.relay == RelayState::Armed {
                step.force = Some(CloseReason::User);
                step.reported_close = true;
            }
            return;
        }
        if self.s.credit == CreditState::Alarm2 && self.s.flags & flags::ALARM2_RELEASED == 0 {
            self.s.flags |= flags::ALARM2_RELEASED;
            sink.push(Output::Record(Record::Alarm2Restored));
        } else if self.emergency_selectable() {
            self.s.flags |= flags::OVERDRAFT_SELECTED;
            sink.push(Output::Record(Record::EmergencySelected));
        }
        step.force = Some(CloseReason::User);
        step.fee_manual = false;
    }

    fn remote<S: Sink<Output>>(
        &mut self,
        now: Timestamp,
        r: Remote,
        step: &mut Step,
        sink: &mut S,
    ) -> Result<(), Rejection> {
        if now > r.expires {
            return Err(Rejection::Expired { expires: r.expires });
        }
        let commands = self.config.policy.actuation == Actuation::Commands;
        match r.kind {
            CommandKind::Trip => {
                if self.guarded() {
                    return Err(Rejection::Guarded);
                }
                self.s.flags |= flags::REMOTE_TRIP;
            }
            CommandKind::AllowClose => {
                self.s.flags &= !flags::REMOTE_TRIP;
                step.remote_manual = true;
            }
            CommandKind::DirectClose => {
                self.s.flags &= !flags::REMOTE_TRIP;
                step.force = Some(CloseReason::Remote);
            }
            CommandKind::Alarm => {
                self.s.flags |= flags::REMOTE_ALARM;
            }
            CommandKind::AlarmRelease => {
                self.s.flags &= !flags::REMOTE_ALARM;
            }
            CommandKind::GuardOn => {
                self.s.flags |= flags::GUARD;
                step.force = Some(CloseReason::Guard);
                if commands {
                    step.guard_command = Some(CommandKind::GuardOn);
                }
            }
            CommandKind::GuardOff => {
                self.s.flags &= !flags::GUARD;
                if commands {
                    step.guard_command = Some(CommandKind::GuardOff);
                }
            }
        }
        step.reason = CloseReason::Remote;
        step.important = true;
        sink.push(Output::Record(Record::Remote {
            kind: r.kind,
            operator: r.operator,
        }));
        if r.kind == CommandKind::Alarm {
            sink.push(Output::Notify(Notification::PaymentReminder {
                net: self.available(),
            }));
        }
        Ok(())
    }

    fn load<S: Sink<Output>>(&mut self, now: Timestamp, watts: u32, step: &mut Step, sink: &mut S) {
        let Some(ol) = self.config.overload else {
            self.s.over_since = None;
            return;
        };
        if self.s.relay != RelayState::Closed || self.s.overload_until.is_some() {
            self.s.over_since = None;
            return;
        }
        if watts < ol.limit_w {
            self.s.over_since = None;
            return;
        }
        let since = *self.s.over_since.get_or_insert(now);
        if now.seconds_since(since) >= u64::from(ol.sustain_s) {
            let reclose_at = now.plus(ol.reclose_s);
            self.s.overload_until = Some(reclose_at);
            self.s.over_since = None;
            step.overload_tripped = true;
            sink.push(Output::Record(Record::Overload { watts, reclose_at }));
        }
    }

    fn set_param<S: Sink<Output>>(
        &mut self,
        p: Param,
        step: &mut Step,
        sink: &mut S,
    ) -> Result<(), Rejection> {
        let mut cfg = self.config.clone();
        cfg.apply(p).map_err(Rejection::InvalidParameter)?;
        // A lower overdraft limit moves what the wallet owes beyond it into debt (net unchanged).
        let (balance, debt) = self.clamp_to_floor(&cfg, self.s.balance, self.s.debt)?;
        self.config = cfg;
        self.s.balance = balance;
        self.s.debt = debt;
        if self.config.overload.is_none() {
            self.s.over_since = None;
        }
        step.may_exit_exhausted = true;
        step.important = true;
        step.reason = CloseReason::Parameter;
        sink.push(Output::Record(Record::Parameter));
        Ok(())
    }

    fn power_up<P: Pricer + ?Sized, S: Sink<Output>>(
        &mut self,
        now: Timestamp,
        snap: &Snapshot,
        step: &mut Step,
        pricer: &mut P,
        sink: &mut S,
    ) -> Result<(), Rejection> {
        if !snap.verify() {
            return Err(Rejection::BadSnapshot);
        }
        // A wallet below the floor of the current configuration keeps its net: the excess
        // moves into debt (as for a lower overdraft limit).
        let (balance, debt) = self.clamp_to_floor(&self.config, snap.balance, snap.debt)?;
        self.s = State {
            balance,
            debt,
            last_order: snap.last_order,
            last_persist: now,
            over_since: None,
            // An overload hold in force survives the power failure; the time without supply
            // counts towards it (the reclose is due at `now ≥ until`).
            overload_until: snap.overload_until,
            last_sequence: snap.last_sequence,
            generation: snap.generation,
            credit: snap.credit,
            relay: snap.relay,
            flags: snap.flags,
            causes: Causes::NONE,
            alarm: snap.alarm,
            friendly: false,
            dirty: false,
            down: false,
        };
        step.reason = CloseReason::PowerUp;
        step.flags_before = snap.flags;
        // Nothing can refuse the input from here on: the pricer gets its charging state back.
        if let Some(c) = &snap.charging {
            pricer.restore(c);
        }
        sink.push(Output::Record(Record::PoweredUp {
            generation: snap.generation,
        }));
        Ok(())
    }

    /// The supply fails: a final snapshot, then only a power-up is accepted.
    fn power_down<P: Pricer + ?Sized, S: Sink<Output>>(
        &mut self,
        now: Timestamp,
        pricer: &mut P,
        sink: &mut S,
    ) {
        pricer.commit();
        self.s.over_since = None;
        self.s.generation = self.s.generation.wrapping_add(1);
        self.s.last_persist = now;
        self.s.dirty = false;
        self.s.down = true;
        sink.push(Output::Persist(self.snapshot(now, pricer)));
    }

    /// The relay position read back from the meter.
    fn relay_position<S: Sink<Output>>(&mut self, closed: bool, step: &mut Step, sink: &mut S) {
        let commanded = self.s.relay;
        match (commanded, closed) {
            (RelayState::Closed, true) | (RelayState::Open | RelayState::Armed, false) => {
                // It agrees: a later mismatch may be re-issued again.
                self.s.flags &= !flags::RELAY_REISSUED;
            }
            (RelayState::Armed, true) => {
                // Allowed to close, and closed: the customer did it (DL/T 645 `1B`).
                step.force = Some(CloseReason::User);
                step.fee_manual = false;
                step.reported_close = true;
            }
            (RelayState::Closed, false) | (RelayState::Open, true) => {
                let reissued = self.s.flags & flags::RELAY_REISSUED == 0;
                self.s.flags |= flags::RELAY_REISSUED;
                step.reissue = reissued;
                sink.push(Output::RelayMismatch {
                    commanded,
                    observed: if closed {
                        RelayState::Closed
                    } else {
                        RelayState::Open
                    },
                    reissued,
                });
            }
        }
    }

    /// `(balance, debt)` with the wallet raised to the floor of `cfg` and the difference moved
    /// into debt (net unchanged).
    fn clamp_to_floor(
        &self,
        cfg: &Config,
        balance: Money,
        debt: Money,
    ) -> Result<(Money, Money), Rejection> {
        let _ = self;
        let floor = Money::from_raw(
            cfg.limits
                .overdraft
                .unwrap_or(Money::ZERO)
                .raw()
                .saturating_neg(),
        );
        if balance >= floor {
            return Ok((balance, debt));
        }
        let excess = floor
            .checked_sub(balance)
            .map_err(|_| Rejection::Overflow)?;
        let debt = debt.checked_add(excess).map_err(|_| Rejection::Overflow)?;
        Ok((floor, debt))
    }

    // ---- evaluation ----------------------------------------------------------------------

    /// The credit state for `net`, without hysteresis.
    fn classify(&self, net: Money) -> CreditState {
        let l = &self.config.limits;
        let od = self.overdraft_limit();
        if net.raw() <= od.raw().saturating_neg() {
            CreditState::Exhausted
        } else if !net.is_positive() {
            CreditState::Zero
        } else if l.alarm2.is_some_and(|a| net <= a) {
            CreditState::Alarm2
        } else if l.alarm1.is_some_and(|a| net <= a) {
            CreditState::Low
        } else {
            CreditState::Normal
        }
    }

    fn fee_level(credit: CreditState) -> Option<AlarmLevel> {
        match credit {
            CreditState::Normal => None,
            CreditState::Low => Some(AlarmLevel::Low),
            CreditState::Alarm2 => Some(AlarmLevel::Alarm2),
            CreditState::Zero => Some(AlarmLevel::Overdraft),
            CreditState::Exhausted => Some(AlarmLevel::Exhausted),
        }
    }

    /// Whether the credit state requires the relay open (before guard / friendly suppression).
    fn fee_cut(&self) -> bool {
        match self.s.credit {
            CreditState::Normal | CreditState::Low => false,
            CreditState::Alarm2 => self.s.flags & flags::ALARM2_RELEASED == 0,
            CreditState::Zero => !self.overdraft_in_use(),
            CreditState::Exhausted => true,
        }
    }

    /// Puts a relay action out: a relay operation, or a command in the master-station profile.
    fn emit_action<S: Sink<Output>>(&self, a: RelayAction, sink: &mut S) {
        if self.config.policy.actuation == Actuation::Commands {
            let command = match a {
                RelayAction::Open { cause, .. } => Command {
                    kind: CommandKind::Trip,
                    reason: CommandReason::Open(cause),
                },
                RelayAction::Arm { reason } => Command {
                    kind: CommandKind::AllowClose,
                    reason: CommandReason::Close(reason),
                },
                RelayAction::Close { reason } => Command {
                    kind: CommandKind::DirectClose,
                    reason: CommandReason::Close(reason),
                },
            };
            sink.push(Output::Command(command));
        } else {
            sink.push(Output::Relay(a));
        }
    }

    #[allow(clippy::too_many_lines)]
    fn finish<P: Pricer + ?Sized, S: Sink<Output>>(
        &mut self,
        now: Timestamp,
        step: &Step,
        pricer: &P,
        sink: &mut S,
    ) {
        let was_selectable = step.was_selectable;
        // Whether the credit state required a fee cut before the input (the credit state is
        // updated below; a top-up changes no flag).
        let fee_cut_before = step.top_up && self.fee_cut();
        // Overload reclose.
        if let Some(until) = self.s.overload_until
            && now >= until
            && !step.overload_tripped
        {
            self.s.overload_until = None;
        }

        // Credit state, with the hard-cut hysteresis.
        let net = self.available();
        let mut credit = self.classify(net);
        if self.s.credit == CreditState::Exhausted
            && credit != CreditState::Exhausted
            && !(step.may_exit_exhausted && net > self.config.limits.reconnect)
        {
            credit = CreditState::Exhausted;
        }
        if credit != CreditState::Alarm2 {
            self.s.flags &= !flags::ALARM2_RELEASED;
        } else if step.top_up && (!fee_cut_before || step.force.is_some()) {
            // A payment that lands in alarm 2 never cuts: from a supplied state (overdraft in
            // use, alarm 2 already restored) it keeps the supply; a card top-up at the meter is
            // itself the card that restores an alarm-2 cut.
            self.s.flags |= flags::ALARM2_RELEASED;
        }
        if net > self.offer_level() || self.config.limits.overdraft.is_none() {
            self.s.flags &= !flags::OVERDRAFT_SELECTED;
        }
        let old_credit = self.s.credit;
        self.s.credit = credit;
        if credit != old_credit {
            sink.push(Output::Record(Record::CreditChanged {
                from: old_credit,
                to: credit,
                net,
            }));
        }

        // Friendly-credit window.
        // A payment may start a window but never ends one (the end would cut): the next input
        // does.
        let friendly = self
            .config
            .friendly
            .as_ref()
            .is_some_and(|f| f.contains(now))
            || (step.top_up && self.s.friendly);
        let friendly_started = friendly && !self.s.friendly;
        if friendly != self.s.friendly {
            self.s.friendly = friendly;
            sink.push(Output::Record(Record::Friendly(friendly)));
        }

        // Causes.
        let guard = self.guarded();
        let mut causes = Causes::NONE
            .with(Cause::Overload, self.s.overload_until.is_some())
            .with(Cause::Remote, self.remote_trip() && !guard)
            .with(Cause::Fee, self.fee_cut() && !guard && !friendly);
        if step.top_up {
            // A payment never opens the relay: it may lift causes, never add one (a friendly
            // window that ended since the last input cuts at the next one).
            causes = causes & self.s.causes;
        }
        let removed = self.s.causes - causes;
        if self.s.relay != RelayState::Closed {
            if removed.contains(Cause::Fee) && step.fee_manual {
                self.s.flags |= flags::NEEDS_USER;
            }
            if removed.contains(Cause::Remote) && step.remote_manual {
                self.s.flags |= flags::NEEDS_USER;
            }
        }
        self.s.causes = causes;

        // Relay.
        let close_reason = step.force.unwrap_or(if removed.contains(Cause::Fee) {
            if friendly_started {
                CloseReason::Friendly
            } else {
                step.reason
            }
        } else if removed.contains(Cause::Overload) {
            CloseReason::Overload
        } else if removed.contains(Cause::Remote) {
            CloseReason::Remote
        } else {
            step.reason
        });
        let needs_user = self.s.flags & flags::NEEDS_USER != 0;
        let action = match (self.s.relay, causes.primary()) {
            (RelayState::Closed | RelayState::Armed, Some(cause)) => {
                self.s.relay = RelayState::Open;
                Some(RelayAction::Open { cause, causes })
            }
            (RelayState::Open, None) if step.force.is_some() || !needs_user => {
                Some(RelayAction::Close {
                    reason: close_reason,
                })
            }
            (RelayState::Open, None) => {
                self.s.relay = RelayState::Armed;
                Some(RelayAction::Arm {
                    reason: close_reason,
                })
            }
            (RelayState::Armed, None) if step.force.is_some() => Some(RelayAction::Close {
                reason: close_reason,
            }),
            _ => None,
        };
        if let Some(RelayAction::Close { .. }) = action {
            self.s.relay = RelayState::Closed;
            self.s.flags &= !flags::NEEDS_USER;
        }
        // The relay did not act: the action it should have carried out, once.
        let reissue = if action.is_none() && step.reissue {
            match self.s.relay {
                RelayState::Open => causes
                    .primary()
                    .map(|cause| RelayAction::Open { cause, causes }),
                RelayState::Closed => Some(RelayAction::Close {
                    reason: CloseReason::Reconcile,
                }),
                RelayState::Armed => None,
            }
        } else {
            None
        };
        if action.is_some() && !step.reissue {
            // A new action: a mismatch seen before it says nothing about it.
            self.s.flags &= !flags::RELAY_REISSUED;
        }

        // Alarm indication.
        let remote_alarm =
            (self.s.flags & flags::REMOTE_ALARM != 0).then_some(AlarmLevel::Reminder);
        let level = Self::fee_level(credit).max(remote_alarm);
        let old_level = self.s.alarm;
        self.s.alarm = level;

        // Persist before switching.
        let persist = step.important
            || action.is_some()
            || credit != old_credit
            || self.s.flags != step.flags_before
            || (self.s.dirty
                && now.seconds_since(self.s.last_persist)
                    >= u64::from(self.config.policy.persist_every));
        if persist {
            self.s.generation = self.s.generation.wrapping_add(1);
            self.s.last_persist = now;
            self.s.dirty = false;
            sink.push(Output::Persist(self.snapshot(now, pricer)));
        }

        let commands = self.config.policy.actuation == Actuation::Commands;
        if let Some(kind) = step.guard_command {
            sink.push(Output::Command(Command {
                kind,
                reason: CommandReason::Operator,
            }));
        }
        if let Some(a) = action
            && !(step.reported_close && matches!(a, RelayAction::Close { .. }))
        {
            self.emit_action(a, sink);
        }
        if let Some(a) = reissue {
            self.emit_action(a, sink);
        }
        if level != old_level {
            if commands {
                if old_level.is_none() || level.is_none() {
                    sink.push(Output::Command(Command {
                        kind: if level.is_some() {
                            CommandKind::Alarm
                        } else {
                            CommandKind::AlarmRelease
                        },
                        reason: CommandReason::Reminder,
                    }));
                }
            } else {
                match (level, old_level) {
                    (Some(level), _) => sink.push(Output::Alarm { on: true, level }),
                    (None, Some(level)) => sink.push(Output::Alarm { on: false, level }),
                    (None, None) => {}
                }
            }
        }

        // Notifications.
        if credit > old_credit {
            match credit {
                CreditState::Low => sink.push(Output::Notify(Notification::LowCredit { net })),
                CreditState::Alarm2 | CreditState::Zero | CreditState::Exhausted => {
                    sink.push(Output::Notify(Notification::PaymentReminder { net }));
                }
                CreditState::Normal => {}
            }
        }
        if self.emergency_selectable() && !was_selectable {
            sink.push(Output::Notify(Notification::EmergencyCreditAvailable {
                amount: self.overdraft_limit(),
            }));
        }
        match action {
            Some(RelayAction::Open { cause, .. }) => {
                sink.push(Output::Notify(Notification::Cut { cause }));
            }
            Some(RelayAction::Arm { .. }) => {
                sink.push(Output::Notify(Notification::ReconnectAllowed))
            }
            Some(RelayAction::Close { .. }) => sink.push(Output::Notify(Notification::Restored)),
            None => {}
        }
    }

    fn emergency_selectable_in(&self, s: &State) -> bool {
        let net = self.available_of(s);
        self.config.policy.overdraft_needs_selection
            && self.overdraft_limit().is_positive()
            && s.flags & flags::OVERDRAFT_SELECTED == 0
            && s.credit != CreditState::Exhausted
            && net <= self.offer_level()
    }
}
