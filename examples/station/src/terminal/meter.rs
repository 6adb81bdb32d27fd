//! A simulated DL/T 645-2007 meter: registers, relay, keypad and (for local fee control) its
//! own prepayment engine.
//!
//! * **Consumption**: `load_watts` while the relay is closed, advanced with the simulated clock
//!   in steps of at most a minute; each step is booked to the time-of-use rate the tariff has
//!   at its end (registers `00010100`–`00010400`: 尖, 峰, 平, 谷; a flat tariff, rates above 4
//!   and the opening energy go to 平) and to the total `00010000`.
//! * **Relay** (status word 3 `04000503`): closed, open, or open and allowed to close (armed,
//!   waiting for the customer's button). It is driven by an [`amikit_prepay::Engine`] with the
//!   State Grid local profile: remote-control frames (`1C`: trip, allow close, direct close,
//!   alarm, guard, refused after their valid-until time or while guarded), the button, and
//!   — for local-fee-control meters only — the wallet. A remote-fee-control meter's engine has
//!   every money threshold disabled, so only commands and the button move its relay.
//! * **Local fee control**: the wallet opens with the site's `opening_balance`; consumption is
//!   priced through [`amikit_prepay::TariffPricer`] with the meter's tariff (`amikit-tariff`);
//!   alarm 1 is the site's `alarm_threshold`, alarm 2 its `trip_threshold` when above zero, no
//!   overdraft (so the wallet at zero is a hard cut lifted by a top-up). Remaining money is
//!   register `00900200` (and the overdraft `00900201`).
//! * **Keypad**: an [`amikit_sts::meter::Meter`] with the decoder key derived at "manufacture"
//!   from the site's STS parameters and vending key (DKGA04, EA11 MISTY1). A local-fee-control
//!   meter keeps its wallet in money and takes **currency** tokens (class 0 subclass 4): it
//!   tops up its wallet with exactly the token's amount × the site's `[sts] currency_unit`,
//!   whatever the time of day (no tariff converts it, so valley-bought credit is not worth
//!   more at peak). An energy credit token (subclass 0) is refused as unsupported on such a
//!   meter and stays unused. The token is only consumed when the engine accepts the top-up (a
//!   refused top-up, e.g. above the hoarding limit, leaves it usable).
//!
//! Remote-control frames must carry the level-02 password 000000 ([`CONTROL_PASSWORD`],
//! checked by [`amikit_dlt645::meter::Meter::serve`] before the meter sees them, as is the
//! valid-until time); writes are refused; ESAM-encrypted control frames are refused as
//! unauthorised.

use std::sync::Arc;

use amikit_dlt645::catalogue;
use amikit_dlt645::meter::{Credential, Handler, ReadRequest};
use amikit_dlt645::value::{DateTime as Dt645, Decimal, TimeLayout, Value};
use amikit_dlt645::{
    Address, DataId, Di, ErrorWord, Function, Password, RemoteBody, RemoteCommand, RemoteControl,
    StatusWord3,
};
use amikit_prepay::tariff::{ChargeState, TariffSet};
use amikit_prepay::{
    AlarmLevel, CommandKind, CreditState, Energy, Engine, Input, Limits, Money, Output, Profile,
    PurchaseId, Rejection, RelayState, Remote, TariffPricer, Timestamp, TopUpSource, UserAction,
};
use amikit_sts::block::TokenData;
use amikit_sts::dkga::VendingKey;
use amikit_sts::keys::{
    EncryptionAlgorithm, KeyParameters, KeyRevision, KeyType, SupplyGroupCode, TariffIndex,
};
use amikit_sts::meter::{Action, MeterConfig, Reject};
use amikit_sts::tid::BaseDate;

use super::erc::{Cause, MeterEvent, StationEvent, TokenRejection};
use super::error::{TerminalError, at_meter};
use super::hooks::{Hooks, RelayBehaviour};
use crate::clock::{Civil, SimSeconds};
use crate::site::{FeeControl, SiteMeter};

/// The STS decoder of a simulated meter: a TID memory of 50 tokens.
pub type StsDecoder = amikit_sts::meter::Meter<'static, 50>;

/// Seconds from 1970-01-01 to 2000-01-01 (the engine's [`Timestamp`] counts from 1970).
const UNIX_2000: i64 = 946_684_800;

/// Status word 3, bit 7: an alarm is on (预跳闸报警).
pub const SW3_ALARM: u16 = 1 << 7;
/// Status word 3, bits 9–8 = `10`: a money-type prepayment meter (local fee control).
pub const SW3_PREPAID_MONEY: u16 = 0b10 << 8;
/// Status word 3, bit 12: guard (保电) is on.
pub const SW3_GUARD: u16 = 1 << 12;
/// The bits whose change is an event (relay, relay command, guard).
const SW3_EVENT_BITS: u16 = StatusWord3::RELAY_OPEN | StatusWord3::RELAY_COMMAND_OPEN | SW3_GUARD;

/// The engine's time of a simulated time.
pub fn timestamp(t: SimSeconds) -> Timestamp {
    Timestamp(t.saturating_add(UNIX_2000))
}

/// The tariff calendar's date-time of a simulated time.
pub fn tariff_time(t: SimSeconds) -> Option<amikit_tariff::DateTime> {
    amikit_tariff::DateTime::try_from(timestamp(t)).ok()
}

/// A DL/T 645 date-time of a simulated time.
pub fn dlt645_time(t: SimSeconds) -> Option<Dt645> {
    let c = Civil::from_sim(t);
    Dt645::ymd_hms(
        u16::try_from(c.year).ok()?,
        c.month,
        c.day,
        c.hour,
        c.minute,
        c.second,
    )
    .ok()
}

/// The simulated time of a DL/T 645 date-time (missing fields as their minimum).
pub fn sim_of_dlt645(t: &Dt645) -> SimSeconds {
    Civil::new(
        i32::from(t.year.unwrap_or(2000)),
        t.month.unwrap_or(1),
        t.day.unwrap_or(1),
        t.hour.unwrap_or(0),
        t.minute.unwrap_or(0),
        t.second.unwrap_or(0),
    )
    .to_sim()
}

/// Reads a tariff file into a validated tariff set ([`crate::site::read_tariff_file`]).
pub fn load_tariff(path: &std::path::Path) -> Result<TariffSet, TerminalError> {
    TariffSet::try_from(&crate::site::read_tariff_file(path).map_err(TerminalError::Site)?).map_err(
        |e| TerminalError::Tariff {
            path: path.to_path_buf(),
            source: e.into(),
        },
    )
}

/// Parses hex digits into bytes.
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The site's STS vending key (DKGA04), prepared.
pub fn vending_key(site: &crate::site::Site) -> Result<Option<VendingKey>, TerminalError> {
    let Some(v) = &site.vending else {
        return Ok(None);
    };
    let bytes = v
        .dkga04_key
        .hex_bytes("vending key")
        .map_err(TerminalError::Site)?;
    VendingKey::new(amikit_sts::dkga::Dkga::Dkga04, &bytes)
        .map(Some)
        .map_err(|e| TerminalError::sts("vending key", e))
}

/// The STS key parameters of a site meter (EA11 MISTY1 for the demo site's DKGA04 keys).
pub fn key_parameters(sts: &crate::site::StsMeter) -> Result<KeyParameters, TerminalError> {
    use TerminalError as E;
    Ok(KeyParameters {
        pan: sts.pan.parse().map_err(|x| E::sts("sts pan", x))?,
        sgc: sts
            .sgc
            .parse::<SupplyGroupCode>()
            .map_err(|x| E::sts("sts sgc", x))?,
        ti: TariffIndex::try_from(sts.ti.parse::<u8>().map_err(|x| E::sts("sts ti", x))?)
            .map_err(|x| E::sts("sts ti", x))?,
        krn: KeyRevision::try_from(sts.krn).map_err(|x| E::sts("sts krn", x))?,
        kt: KeyType::try_from(sts.kt).map_err(|x| E::sts("sts kt", x))?,
        base_date: BaseDate::from_year(sts.base_date).map_err(|x| E::sts("sts base date", x))?,
        ea: EncryptionAlgorithm::Misty1,
    })
}

/// What a simulated meter shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterView {
    /// Measurement point on the terminal.
    pub pn: u16,
    /// DL/T 645 address (12 digits).
    pub address: String,
    /// The customer.
    pub customer: String,
    /// Remote or local fee control.
    pub fee_control: FeeControl,
    /// The relay: closed, open, or armed (open, allowed to close: press the button).
    pub relay: RelayState,
    /// Forward active energy register.
    pub energy: Energy,
    /// Rate registers 尖, 峰, 平, 谷.
    pub rate_energy: [Energy; 4],
    /// Local wallet net of debt (local fee control only).
    pub balance: Option<Money>,
    /// Local credit state (local fee control only).
    pub credit: Option<CreditState>,
    /// The alarm indication, if on (a remote reminder, or a local credit alarm).
    pub alarm: Option<AlarmLevel>,
    /// Guard (保电) on.
    pub guarded: bool,
    /// Status word 3 as the meter reports it.
    pub status_word: u16,
    /// Tokens accepted on the keypad.
    pub tokens_accepted: u32,
    /// Tokens rejected on the keypad.
    pub tokens_rejected: u32,
    /// Times the relay opened (closed → open).
    pub trips: u32,
    /// Times the relay closed again (open or armed → closed).
    pub restores: u32,
    /// Times an alarm indication went on (remote reminder or local credit alarm).
    pub alarms: u32,
    /// The load while supplied, watts.
    pub load_watts: u32,
}

/// A simulated meter (see the module docs).
#[derive(Debug, Clone)]
pub struct SimMeter {
    pn: u16,
    address: Address,
    customer: String,
    fee: FeeControl,
    load_watts: u32,
    tariff: Arc<TariffSet>,
    charge: ChargeState,
    engine: Engine,
    sts: Option<Box<StsDecoder>>,
    /// The money one unit of a currency token is (`[sts] currency_unit`).
    currency_unit: Money,
    now: SimSeconds,
    last: SimSeconds,
    joules: i64,
    total_wh: i64,
    rate_wh: [i64; 4],
    sw3: u16,
    tokens_accepted: u32,
    tokens_rejected: u32,
    trips: u32,
    restores: u32,
    alarms: u32,
    events: Vec<StationEvent>,
    hooks: Hooks,
    /// A relay command confirmed but held by a late relay: acts at the given time.
    late: Option<(SimSeconds, Remote)>,
}

fn money(m: &SiteMeter, text: &str, what: &'static str) -> Result<Money, TerminalError> {
    Money::parse(text).map_err(|e| TerminalError::meter(m, what, format!("{text:?}: {e}")))
}

impl SimMeter {
    /// A meter from the site file, its tariff and the site's vending key, at simulated time
    /// `start` (its "manufacture": the STS decoder key is derived here).
    pub fn from_site(
        m: &SiteMeter,
        tariff: Arc<TariffSet>,
        vending: Option<&VendingKey>,
        currency_unit: Money,
        start: SimSeconds,
    ) -> Result<Self, TerminalError> {
        let address = Address::parse(&m.address).map_err(at_meter(m, "address"))?;
        let opening = Energy::parse(&m.opening_kwh).map_err(at_meter(m, "opening_kwh"))?;
        let mut config = Profile::StateGridLocal.config();
        config.overload = None;
        let balance = match m.fee_control {
            FeeControl::Local => {
                let trip = money(m, &m.trip_threshold, "trip_threshold")?;
                config.limits = Limits {
                    alarm1: Some(money(m, &m.alarm_threshold, "alarm_threshold")?),
                    alarm2: trip.is_positive().then_some(trip),
                    overdraft: None,
                    emergency_threshold: None,
                    // Not below alarm 2 (amikit-prepay refuses a reconnect threshold below it).
                    reconnect: trip.max(Money::ZERO),
                    hoarding: config.limits.hoarding,
                };
                money(m, &m.opening_balance, "opening_balance")?
            }
            FeeControl::Remote => {
                // No wallet: every money threshold off, a credit that never runs out.
                config.limits = Limits {
                    alarm1: None,
                    alarm2: None,
                    overdraft: None,
                    emergency_threshold: None,
                    reconnect: Money::ZERO,
                    hoarding: None,
                };
                Money::from_raw(i64::MAX / 4)
            }
        };
        let engine = Engine::new(config, balance).map_err(at_meter(m, "engine"))?;
        let sts = match &m.sts {
            None => None,
            Some(s) => {
                let params = key_parameters(s)?;
                // The key the meter was made with: its own (a terminal's site), or derived
                // from the vending key (tests that hold the whole site).
                let key = match (&s.decoder_key, vending) {
                    (Some(dk), _) => {
                        let bytes = dk
                            .hex_bytes("decoder key")
                            .map_err(at_meter(m, "decoder key"))?;
                        amikit_sts::keys::DecoderKey::try_from(bytes.as_slice())
                            .map_err(at_meter(m, "decoder key"))?
                    }
                    (None, Some(vk)) => vk.derive(&params).map_err(at_meter(m, "key"))?,
                    (None, None) => return Err(TerminalError::NoDecoderKey(m.address.clone())),
                };
                let decoder = StsDecoder::new(MeterConfig::from_parameters(key, &params), None)
                    .map_err(at_meter(m, "decoder"))?;
                Some(Box::new(decoder))
            }
        };
        let mut meter = SimMeter {
            pn: m.pn,
            address,
            customer: m.customer.clone(),
            fee: m.fee_control,
            load_watts: m.load_watts,
            tariff,
            charge: ChargeState::new(),
            engine,
            sts,
            currency_unit,
            now: start,
            last: start,
            joules: 0,
            total_wh: opening.wh(),
            rate_wh: [0, 0, opening.wh(), 0],
            sw3: 0,
            tokens_accepted: 0,
            tokens_rejected: 0,
            trips: 0,
            restores: 0,
            alarms: 0,
            events: Vec::new(),
            hooks: Hooks::default(),
            late: None,
        };
        if m.guarded {
            let guard = Remote {
                kind: CommandKind::GuardOn,
                expires: timestamp(start),
                operator: 0,
            };
            meter
                .step(start, Input::Remote(guard), Cause::Other)
                .map_err(at_meter(m, "guard"))?;
        }
        // The first step reports the opening relay and alarm state.
        meter
            .step(start, Input::Tick, Cause::Fee)
            .map_err(at_meter(m, "opening state"))?;
        meter.sw3 = meter.status_word();
        meter.events.clear();
        (meter.trips, meter.restores, meter.alarms) = (0, 0, 0);
        Ok(meter)
    }

    /// Measurement point.
    pub fn pn(&self) -> u16 {
        self.pn
    }

    /// DL/T 645 address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Fee control mode.
    pub fn fee_control(&self) -> FeeControl {
        self.fee
    }

    /// Routes this meter's register and relay through `hooks` (a misbehaving field).
    pub fn set_hooks(&mut self, hooks: Hooks) {
        self.hooks = hooks;
    }

    /// Sets the time of the request about to be served (the bus does this).
    pub fn set_now(&mut self, now: SimSeconds) {
        self.now = now;
        self.advance(now);
    }

    /// Takes the events recorded since the last call.
    pub fn take_events(&mut self, into: &mut impl Extend<StationEvent>) {
        into.extend(self.events.drain(..));
    }

    /// Status word 3.
    pub fn status_word(&self) -> u16 {
        let mut w = match self.engine.status().relay {
            RelayState::Closed => 0,
            RelayState::Open => StatusWord3::RELAY_OPEN | StatusWord3::RELAY_COMMAND_OPEN,
            RelayState::Armed => StatusWord3::RELAY_OPEN,
        };
        if self.engine.status().alarm.is_some() {
            w |= SW3_ALARM;
        }
        if self.fee == FeeControl::Local {
            w |= SW3_PREPAID_MONEY;
        }
        if self.engine.status().guarded {
            w |= SW3_GUARD;
        }
        w
    }

    /// Runs one engine input; records relay/guard changes and credit alarms as events.
    fn step(&mut self, now: SimSeconds, input: Input, cause: Cause) -> Result<(), Rejection> {
        let mut outs: Vec<Output> = Vec::new();
        let mut pricer = TariffPricer::new(&*self.tariff, &mut self.charge);
        self.engine
            .handle(timestamp(now), input, &mut pricer, &mut outs);
        let mut result = Ok(());
        for o in outs {
            match o {
                Output::Reject { reason, .. } => result = Err(reason),
                Output::Alarm { on: true, .. } if self.fee == FeeControl::Remote => {
                    self.alarms += 1;
                }
                Output::Alarm { on: true, level } => {
                    self.alarms += 1;
                    let level = match level {
                        AlarmLevel::Reminder => continue,
                        AlarmLevel::Low => 1,
                        AlarmLevel::Alarm2 => 2,
                        AlarmLevel::Overdraft => 3,
                        AlarmLevel::Exhausted => 4,
                    };
                    self.events.push(StationEvent {
                        at: now,
                        pn: self.pn,
                        event: MeterEvent::CreditAlarm {
                            level,
                            net: self.engine.status().net.raw(),
                        },
                    });
                }
                _ => {}
            }
        }
        let after = self.status_word();
        let open = |w: u16| w & StatusWord3::RELAY_OPEN != 0;
        match (open(self.sw3), open(after)) {
            (false, true) => self.trips += 1,
            (true, false) => self.restores += 1,
            _ => {}
        }
        if (after ^ self.sw3) & SW3_EVENT_BITS != 0 {
            self.events.push(StationEvent {
                at: now,
                pn: self.pn,
                event: MeterEvent::Status {
                    before: self.sw3,
                    after,
                    cause,
                },
            });
        }
        self.sw3 = after;
        result
    }

    /// Advances consumption to `now` (no-op for earlier times), in steps that end at every
    /// full minute; each step is booked and priced at the time it starts.
    pub fn advance(&mut self, now: SimSeconds) {
        if let Some((due, remote)) = self.late.take_if(|(due, _)| *due <= now) {
            self.advance_to(due);
            let _ = self.step(due, Input::Remote(remote), Cause::Remote);
        }
        self.advance_to(now);
    }

    fn advance_to(&mut self, now: SimSeconds) {
        while self.last < now {
            let start = self.last;
            let end = ((start.div_euclid(60) + 1) * 60).min(now);
            self.last = end;
            if self.engine.status().relay != RelayState::Closed {
                continue;
            }
            self.joules += i64::from(self.load_watts) * (end - start);
            let wh = self.joules / 3600;
            self.joules %= 3600;
            if wh == 0 {
                continue;
            }
            let rate = tariff_time(start)
                .and_then(|t| {
                    self.tariff
                        .active(t)
                        .unit_price(t, self.charge.period_energy())
                        .ok()
                })
                .and_then(|u| u.rate)
                .map_or(3, u8::from);
            let slot = if (1..=4).contains(&rate) { rate } else { 3 };
            if let Some(r) = self.rate_wh.get_mut(usize::from(slot - 1)) {
                *r += wh;
            }
            self.total_wh += wh;
            if self.fee == FeeControl::Local {
                let energy = Energy::from_wh(wh);
                let _ = self.step(start, Input::Consume { energy }, Cause::Fee);
            }
        }
    }

    /// A fitter at the meter carries out a relay command by hand (no frame, no fault hook):
    /// what a `relay_mismatch` job sends someone out to do. Returns the relay afterwards.
    pub fn by_hand(&mut self, now: SimSeconds, kind: CommandKind) -> RelayState {
        self.advance(now);
        self.late = None;
        let remote = Remote {
            kind,
            expires: timestamp(now + 3600),
            operator: 0,
        };
        let _ = self.step(now, Input::Remote(remote), Cause::Remote);
        self.engine.status().relay
    }

    /// The customer presses the button; returns what happened.
    pub fn press_button(&mut self, now: SimSeconds) -> String {
        self.advance(now);
        let before = self.engine.status().relay;
        let _ = self.step(now, Input::User(UserAction::Button), Cause::Button);
        match (before, self.engine.status().relay) {
            (RelayState::Armed, RelayState::Closed) => "supply restored".into(),
            (_, RelayState::Closed) => "supply is on".into(),
            (_, RelayState::Open) => "supply stays off (not allowed to close)".into(),
            (_, RelayState::Armed) => "supply stays off".into(),
        }
    }

    fn reject(
        &mut self,
        now: SimSeconds,
        reason: TokenRejection,
        detail: String,
    ) -> Result<String, TerminalError> {
        self.tokens_rejected += 1;
        self.events.push(StationEvent {
            at: now,
            pn: self.pn,
            event: MeterEvent::TokenRejected { reason },
        });
        Err(TerminalError::TokenRefused { reason, detail })
    }

    /// A token typed on the keypad: `Ok(what it did)` or why it was refused
    /// ([`TerminalError::TokenRefused`]).
    pub fn keypad(&mut self, now: SimSeconds, token: &str) -> Result<String, TerminalError> {
        self.advance(now);
        let Some(sts) = self.sts.as_deref() else {
            return self.reject(
                now,
                TokenRejection::Unsupported,
                "this meter has no token keypad".into(),
            );
        };
        let mut trial = sts.clone();
        let accepted = match trial.enter_str(token, u64::try_from(now).unwrap_or(0)) {
            Ok(a) => a,
            Err(r) => {
                let reason = match r {
                    Reject::Format(_) => TokenRejection::Format,
                    Reject::Crc => TokenRejection::Authentication,
                    Reject::KeyExpired { .. } => TokenRejection::KeyExpired,
                    Reject::Old { .. } => TokenRejection::Old,
                    Reject::Used { .. } => TokenRejection::Used,
                    Reject::KeyTypeNotAllowed { .. } => TokenRejection::KeyType,
                    Reject::Range { .. } | Reject::Overflow { .. } => TokenRejection::Range,
                    Reject::Unsupported { .. } | Reject::ManufacturerCode { .. } => {
                        TokenRejection::Unsupported
                    }
                    _ => TokenRejection::Other,
                };
                return self.reject(now, reason, r.to_string());
            }
        };
        let (tenths, money, tid) = match (accepted.action, accepted.data) {
            (Action::AddCredit { tenths, .. }, TokenData::Credit(c)) => {
                (tenths, None, u32::from(c.tid))
            }
            (Action::AddCurrency { amount, .. }, TokenData::Currency(c)) => {
                let money = i64::from(amount.value())
                    .checked_mul(self.currency_unit.raw())
                    .map(Money::from_raw);
                let Some(money) = money else {
                    return self.reject(now, TokenRejection::Range, "amount out of range".into());
                };
                (0, Some(money), u32::from(c.tid))
            }
            (action, _) => {
                // A management token: accepted by the decoder, nothing to do for the wallet.
                self.sts = Some(Box::new(trial));
                self.tokens_accepted += 1;
                return Ok(format!("management token accepted: {action:?}"));
            }
        };
        let what = match money {
            Some(m) => format!("{m} (currency)"),
            None => format!("{}.{} kWh", tenths / 10, tenths % 10),
        };
        let (credited, net) = if self.fee == FeeControl::Local {
            // The wallet is money: only a currency token credits it, with exactly its amount.
            let Some(amount) = money else {
                return self.reject(
                    now,
                    TokenRejection::Unsupported,
                    format!(
                        "{what}: this meter keeps its wallet in money and takes currency tokens"
                    ),
                );
            };
            let id = PurchaseId::Sequence(self.engine.status().last_sequence.wrapping_add(1));
            let top_up = Input::TopUp {
                amount,
                id,
                source: TopUpSource::Token,
            };
            if let Err(r) = self.step(now, top_up, Cause::Token) {
                return self.reject(
                    now,
                    TokenRejection::Refused,
                    format!("{what}: refused by the meter: {r}"),
                );
            }
            (Some(amount), Some(self.engine.status().net))
        } else {
            (None, None)
        };
        self.sts = Some(Box::new(trial));
        self.tokens_accepted += 1;
        self.events.push(StationEvent {
            at: now,
            pn: self.pn,
            event: MeterEvent::TokenAccepted {
                tid,
                tenths,
                credited: credited.map(Money::raw),
                net: net.map(Money::raw),
            },
        });
        Ok(match (credited, net) {
            (Some(c), Some(n)) => format!(
                "{c} credited, balance {n}, relay {}",
                self.engine.status().relay.name()
            ),
            _ => format!("{what} added to the meter's STS credit register (remote fee control)"),
        })
    }

    /// A snapshot of the meter at `now` (consumption advanced first).
    pub fn view(&mut self, now: SimSeconds) -> MeterView {
        self.advance(now);
        let local = self.fee == FeeControl::Local;
        MeterView {
            pn: self.pn,
            address: self.address.to_string(),
            customer: self.customer.clone(),
            fee_control: self.fee,
            relay: self.engine.status().relay,
            energy: Energy::from_wh(self.total_wh),
            rate_energy: self.rate_wh.map(Energy::from_wh),
            balance: local.then(|| self.engine.status().net),
            credit: local.then(|| self.engine.status().credit),
            alarm: self.engine.status().alarm,
            guarded: self.engine.status().guarded,
            status_word: self.status_word(),
            tokens_accepted: self.tokens_accepted,
            tokens_rejected: self.tokens_rejected,
            trips: self.trips,
            restores: self.restores,
            alarms: self.alarms,
            load_watts: self.load_watts,
        }
    }

    /// Active power now, in 1e-4 kW (0 while the relay is open).
    fn power(&self) -> i64 {
        if self.engine.status().relay == RelayState::Closed {
            i64::from(self.load_watts) * 10
        } else {
            0
        }
    }
}

/// Encodes a number in the catalogue format of `di`: length, decimals and sign come from the
/// DL/T 645 identifier catalogue, not from this simulator.
fn put(out: &mut [u8], di: u32, value: Decimal) -> Result<usize, ErrorWord> {
    let entry = catalogue::lookup(Di(di)).ok_or(ErrorWord(ErrorWord::NO_REQUESTED_DATA))?;
    entry
        .format
        .encode(&Value::Number(value), out)
        .map_err(|_| ErrorWord(ErrorWord::OTHER))
}

/// Encodes the members of a block one after the other: `first`, then DI1 + 1 for each next.
fn put_block(out: &mut [u8], first: u32, values: &[Decimal]) -> Result<usize, ErrorWord> {
    let mut at = 0usize;
    for (i, &v) in values.iter().enumerate() {
        let slot = out.get_mut(at..).ok_or(ErrorWord(ErrorWord::OTHER))?;
        at += put(slot, first + ((i as u32) << 8), v)?;
    }
    Ok(at)
}

/// Energy in Wh as the 645 register `XXXXXX.XX` kWh (wrapping at 10^6 kWh).
fn register(wh: i64) -> i64 {
    (wh / 10).rem_euclid(100_000_000)
}

/// Nominal voltage (220.0 V), power factor (0.950) and the reactive share tan φ (0.3287).
const VOLTAGE_DV: i64 = 2200;
const PF_MILLI: i64 = 950;
const TAN_PHI_E4: i64 = 3287;

/// The password the simulated meters accept for remote control: level 02, 000000.
pub const CONTROL_PASSWORD: Password = Password::new(2, 0);

const CONTROL_CREDENTIALS: &[Credential] = &[Credential::Password(CONTROL_PASSWORD)];

impl Handler for SimMeter {
    fn credentials(&self, function: Function, _: Option<DataId>) -> &[Credential] {
        match function {
            Function::RemoteControl => CONTROL_CREDENTIALS,
            _ => &[],
        }
    }

    fn read(&mut self, request: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
        let none = ErrorWord(ErrorWord::NO_REQUESTED_DATA);
        let DataId::V2007(Di(di)) = request.di else {
            return Err(none);
        };
        self.advance(self.now);
        let p = self.power();
        let rates = self.rate_wh.map(register);
        let total = register(self.hooks.register(&self.address, self.now, self.total_wh));
        let hundredths = |v: i64| Decimal::new(v, 2); // XXXXXX.XX (kWh or yuan)
        let kw = |e4: i64| Decimal::new(e4, 4); // XX.XXXX
        match di {
            // Combined and forward active energy, total / rates / block.
            0x0000_0000 | 0x0001_0000 => put(out, di, hundredths(total)),
            0x0000_0100..=0x0000_0400 | 0x0001_0100..=0x0001_0400 => {
                let i = usize::from((di >> 8) as u8) - 1;
                put(out, di, hundredths(rates.get(i).copied().ok_or(none)?))
            }
            0x0000_FF00 | 0x0001_FF00 => {
                let [r1, r2, r3, r4] = rates;
                put_block(
                    out,
                    di & 0xFFFF_00FF,
                    &[total, r1, r2, r3, r4].map(hundredths),
                )
            }
            // Reverse active energy: none.
            0x0002_0000 => put(out, di, hundredths(0)),
            // Voltage, current (A phase; a single-phase meter).
            0x0201_0100 => put(out, di, Decimal::new(VOLTAGE_DV, 1)),
            0x0201_FF00 => put_block(
                out,
                0x0201_0100,
                &[VOLTAGE_DV, 0, 0].map(|v| Decimal::new(v, 1)),
            ),
            0x0202_0100 => put(
                out,
                di,
                Decimal::new(p * 1000 / (VOLTAGE_DV * PF_MILLI / 100), 3),
            ),
            // Active / reactive power (total, A), power factor (total, A).
            0x0203_0000 | 0x0203_0100 => put(out, di, kw(p)),
            0x0203_FF00 => put_block(out, 0x0203_0000, &[p, p, 0, 0].map(kw)),
            0x0204_0000 | 0x0204_0100 => put(out, di, kw(p * TAN_PHI_E4 / 10_000)),
            0x0206_0000 | 0x0206_0100 => put(out, di, Decimal::new(PF_MILLI, 3)),
            0x0280_0002 => put(out, di, Decimal::new(5000, 2)),
            // Date (YYMMDDWW, 0 = Sunday) and time.
            0x0400_0101 | 0x0400_0102 => {
                let c = Civil::from_sim(self.now);
                let mut t = dlt645_time(self.now).ok_or(ErrorWord(ErrorWord::OTHER))?;
                t.weekday = Some(c.weekday() % 7);
                let layout = if di == 0x0400_0101 {
                    TimeLayout::YyMmDdWw
                } else {
                    TimeLayout::HhMmSs
                };
                t.encode(layout, out)
                    .map_err(|_| ErrorWord(ErrorWord::OTHER))
            }
            0x0400_0401 => {
                let dst = out.get_mut(..6).ok_or(ErrorWord(ErrorWord::OTHER))?;
                dst.copy_from_slice(&self.address.to_wire());
                Ok(6)
            }
            0x0400_0503 => {
                let dst = out.get_mut(..2).ok_or(ErrorWord(ErrorWord::OTHER))?;
                dst.copy_from_slice(&self.status_word().to_le_bytes());
                Ok(2)
            }
            // Remaining money / overdraft (local fee control only), 元 with 2 decimals.
            0x0090_0200 | 0x0090_0201 if self.fee == FeeControl::Local => {
                let net = self.engine.status().net.raw() / 100;
                let v = if di == 0x0090_0200 {
                    net.max(0)
                } else {
                    (-net).max(0)
                };
                put(out, di, hundredths(v))
            }
            _ => Err(none),
        }
    }

    fn remote_control(&mut self, rc: &RemoteControl<'_>) -> Result<(), ErrorWord> {
        let RemoteBody::Plain {
            command,
            valid_until,
            ..
        } = rc.body
        else {
            return Err(ErrorWord(ErrorWord::UNAUTHORISED));
        };
        let until = sim_of_dlt645(&valid_until);
        if self.now > until {
            return Err(ErrorWord(ErrorWord::OTHER));
        }
        let kind = match command {
            RemoteCommand::Trip => CommandKind::Trip,
            RemoteCommand::AllowClose => CommandKind::AllowClose,
            RemoteCommand::DirectClose => CommandKind::DirectClose,
            RemoteCommand::Alarm => CommandKind::Alarm,
            RemoteCommand::AlarmRelease => CommandKind::AlarmRelease,
            RemoteCommand::GuardOn => CommandKind::GuardOn,
            RemoteCommand::GuardOff => CommandKind::GuardOff,
            RemoteCommand::Unknown(_) => return Err(ErrorWord(ErrorWord::OTHER)),
        };
        let remote = Remote {
            kind,
            expires: timestamp(until),
            operator: u32::from_le_bytes(rc.auth.operator.0),
        };
        let now = self.now;
        match self.hooks.relay_command(&self.address, now, kind) {
            RelayBehaviour::Act => {}
            RelayBehaviour::Refuse => return Ok(()),
            RelayBehaviour::Late(after) => {
                self.late = Some((now.saturating_add(after.max(1)), remote));
                return Ok(());
            }
        }
        self.step(now, Input::Remote(remote), Cause::Remote)
            .map_err(|r| match r {
                Rejection::Guarded => ErrorWord(ErrorWord::UNAUTHORISED),
                _ => ErrorWord(ErrorWord::OTHER),
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::site::{Site, workspace_root};
    use amikit_dlt645::meter::Meter;
    use amikit_dlt645::{
        Auth, Body, Edition, Frame, Function, OperatorCode, Password, Reply, Repr, Request,
    };
    use amikit_sts::block::{CreditKind, Rnd};
    use amikit_sts::vend::{Issue, Vendor};

    /// The demo site's meter at `pn`, made at `start`.
    pub(crate) fn demo_meter(site: &Site, pn: u16, start: SimSeconds) -> SimMeter {
        let (_, m) = site.meters().find(|(_, m)| m.pn == pn).unwrap();
        let tariff = load_tariff(&site.tariff_path(&m.tariff, &workspace_root()).unwrap()).unwrap();
        let vk = vending_key(site).unwrap();
        let unit = site.sts.unit().unwrap();
        SimMeter::from_site(m, Arc::new(tariff), vk.as_ref(), unit, start).unwrap()
    }

    /// Vends a currency token of `units` (fen) for the demo meter at `pn`, issued at `at`.
    pub(crate) fn vend_money(site: &Site, pn: u16, units: u64, at: &str, rnd: u8) -> String {
        let (_, m) = site.meters().find(|(_, m)| m.pn == pn).unwrap();
        let params = key_parameters(m.sts.as_ref().unwrap()).unwrap();
        let vk = vending_key(site).unwrap().unwrap();
        let vendor = Vendor::for_meter(&vk, &params, None).unwrap();
        let issue = Issue::At(at.parse().unwrap());
        vendor
            .currency_credit(
                CreditKind::Electricity,
                amikit_sts::amount::Amount::from_value_exact(units).unwrap(),
                issue,
                Rnd::try_from(rnd).unwrap(),
            )
            .unwrap()
            .to_string()
    }

    /// Vends a credit token of `tenths` for the demo meter at `pn`, issued at `at`.
    pub(crate) fn vend(site: &Site, pn: u16, tenths: u64, at: &str, rnd: u8) -> String {
        let (_, m) = site.meters().find(|(_, m)| m.pn == pn).unwrap();
        let params = key_parameters(m.sts.as_ref().unwrap()).unwrap();
        let vk = vending_key(site).unwrap().unwrap();
        let vendor = Vendor::for_meter(&vk, &params, None).unwrap();
        let issue = Issue::At(at.parse().unwrap());
        vendor
            .credit(
                CreditKind::Electricity,
                tenths,
                issue,
                Rnd::try_from(rnd).unwrap(),
            )
            .unwrap()
            .to_string()
    }

    fn serve(
        meter: &mut SimMeter,
        now: SimSeconds,
        req: &Repr<'_>,
    ) -> (u8, Vec<u8>, Option<ErrorWord>) {
        meter.set_now(now);
        let mut id = Meter::new(meter.address());
        let (buf, n) = req.to_array::<64>().unwrap();
        let frame = Frame::new_checked(&buf[..n]).unwrap();
        let mut out = [0u8; 256];
        let clock = dlt645_time(now).unwrap();
        let len = id.serve(meter, &frame, clock, &mut out).unwrap().unwrap();
        let repr = Repr::parse_bytes(&out[..len], Edition::V2007).unwrap();
        let control = repr.control().unwrap().0;
        match repr.body {
            Body::Reply(Reply::Read { data, .. }) => {
                let mut v = vec![0u8; data.len()];
                data.copy_to(&mut v);
                (control, v, None)
            }
            Body::Reply(Reply::Ack(Function::RemoteControl)) => (control, vec![], None),
            Body::Abnormal { error, .. } => (control, vec![], Some(error)),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn control(addr: Address, cmd: RemoteCommand, until: SimSeconds) -> Repr<'static> {
        let auth = Auth {
            password: Password::new(2, 0),
            operator: OperatorCode([1, 0, 0, 0]),
        };
        Repr::request(
            Edition::V2007,
            addr,
            Request::RemoteControl(RemoteControl::plain(auth, cmd, dlt645_time(until).unwrap())),
        )
    }

    fn number(bytes: &[u8], decimals: u8) -> i64 {
        amikit_dlt645::value::decode_number(amikit_dlt645::Data::plain(bytes), decimals, false)
            .unwrap()
            .mantissa
    }

    #[test]
    fn energy_registers_follow_the_load_and_the_time_of_use() {
        let site = Site::demo();
        // 21:00: one hour of peak, then valley from 22:00.
        let start = Civil::new(2026, 3, 2, 21, 0, 0).to_sim();
        let mut m = demo_meter(&site, 4, start); // 600 W, 2210.00 kWh
        let addr = m.address();
        let (c, v, _) = serve(
            &mut m,
            start + 7200,
            &Repr::read(addr, Di::FORWARD_ACTIVE_ENERGY),
        );
        assert_eq!(c, 0x91);
        assert_eq!(number(&v, 2), 221_120);
        let (_, v, _) = serve(&mut m, start + 7200, &Repr::read(addr, Di(0x0001_FF00)));
        assert_eq!(v.len(), 20);
        let regs: Vec<i64> = v.chunks(4).map(|c| number(c, 2)).collect();
        // total, 尖, 峰 (0.6 kWh), 平 (the opening energy), 谷 (0.6 kWh)
        assert_eq!(regs, vec![221_120, 0, 60, 221_000, 60]);
        // Status word 3: closed, remote-fee meter.
        let (_, v, _) = serve(&mut m, start, &Repr::read(addr, Di::STATUS_WORD_3));
        assert_eq!(v, vec![0, 0]);
        // Remaining money is a local-meter register.
        let (c, _, e) = serve(&mut m, start, &Repr::read(addr, Di::REMAINING_MONEY));
        assert_eq!(
            (c, e),
            (0xD1, Some(ErrorWord(ErrorWord::NO_REQUESTED_DATA)))
        );
    }

    #[test]
    fn trip_allow_close_button_and_guard() {
        let site = Site::demo();
        let t = Civil::new(2026, 3, 2, 9, 0, 0).to_sim();
        let mut m = demo_meter(&site, 1, t);
        let addr = m.address();
        let sw3 = |m: &mut SimMeter, at| {
            let (_, v, _) = serve(m, at, &Repr::read(addr, Di::STATUS_WORD_3));
            StatusWord3::from_plain([v[0], v[1]])
        };
        // Trip: 9C, relay open and commanded open; no consumption while open.
        let (c, _, _) = serve(&mut m, t, &control(addr, RemoteCommand::Trip, t + 600));
        assert_eq!(c, 0x9C);
        let w = sw3(&mut m, t);
        assert!(w.relay_open() && w.relay_command_open());
        let e0 = m.view(t).energy;
        assert_eq!(m.view(t + 3600).energy, e0);
        // Allow close: still open, no longer commanded open (armed).
        let (c, _, _) = serve(
            &mut m,
            t + 3600,
            &control(addr, RemoteCommand::AllowClose, t + 4000),
        );
        assert_eq!(c, 0x9C);
        let w = sw3(&mut m, t + 3600);
        assert!(w.relay_open() && !w.relay_command_open());
        assert_eq!(m.view(t + 3600).relay, RelayState::Armed);
        // The customer presses the button: closed, consumption resumes.
        assert_eq!(m.press_button(t + 3700), "supply restored");
        assert_eq!(m.view(t + 3700).relay, RelayState::Closed);
        assert!(m.view(t + 7300).energy > e0);
        // Guard on: a trip is refused with DC, the relay stays closed.
        let (c, _, _) = serve(
            &mut m,
            t + 8000,
            &control(addr, RemoteCommand::GuardOn, t + 9000),
        );
        assert_eq!(c, 0x9C);
        assert!(m.view(t + 8000).guarded);
        let (c, _, e) = serve(
            &mut m,
            t + 8000,
            &control(addr, RemoteCommand::Trip, t + 9000),
        );
        assert_eq!((c, e), (0xDC, Some(ErrorWord(ErrorWord::UNAUTHORISED))));
        assert_eq!(m.view(t + 8000).relay, RelayState::Closed);
        // Guard off, then a trip whose valid-until time has passed is refused and changes nothing.
        serve(
            &mut m,
            t + 8100,
            &control(addr, RemoteCommand::GuardOff, t + 9000),
        );
        let (c, _, e) = serve(
            &mut m,
            t + 8200,
            &control(addr, RemoteCommand::Trip, t + 8199),
        );
        assert_eq!((c, e), (0xDC, Some(ErrorWord(ErrorWord::OTHER))));
        assert_eq!(m.view(t + 8200).relay, RelayState::Closed);
        // Events: trip, allow close, button, guard on, guard off.
        let mut ev = Vec::new();
        m.take_events(&mut ev);
        let causes: Vec<_> = ev
            .iter()
            .map(|e| match e.event {
                MeterEvent::Status { cause, .. } => cause,
                _ => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(
            causes,
            vec![
                Cause::Remote,
                Cause::Remote,
                Cause::Button,
                Cause::Remote,
                Cause::Remote
            ]
        );
    }

    #[test]
    fn local_meter_runs_out_and_a_token_restores_it_once() {
        let site = Site::demo();
        // pn 2: 3.00 yuan, 1200 W, alarm at 5.00: already low at the start.
        let t = Civil::new(2026, 3, 2, 9, 0, 0).to_sim();
        let mut m = demo_meter(&site, 2, t);
        let addr = m.address();
        let v = m.view(t);
        assert_eq!(v.balance, Some(Money::parse("3").unwrap()));
        assert_eq!(v.credit, Some(CreditState::Low));
        // Peak 0.568/kWh: 1.2 kWh an hour = 0.6816 an hour; 3.00 lasts about 4.4 hours.
        let v = m.view(t + 5 * 3600);
        assert_eq!(v.relay, RelayState::Open);
        assert_eq!(v.credit, Some(CreditState::Exhausted));
        // The last minute before the cut overshoots zero by less than a minute's cost.
        let net0 = v.balance.unwrap();
        assert!(
            net0 <= Money::ZERO && net0 > Money::parse("-0.0114").unwrap(),
            "{net0}"
        );
        let (_, w, _) = serve(&mut m, t + 5 * 3600, &Repr::read(addr, Di::STATUS_WORD_3));
        assert!(StatusWord3::from_plain([w[0], w[1]]).relay_open());
        let (_, w, _) = serve(&mut m, t + 5 * 3600, &Repr::read(addr, Di::REMAINING_MONEY));
        assert_eq!(number(&w, 2), 0);
        // An energy token: this meter's wallet is money, so it is refused and stays unused.
        let energy = vend(&site, 2, 250, "2026-03-02T13:50", 4);
        let err = m.keypad(t + 5 * 3600, &energy).unwrap_err();
        assert!(
            matches!(
                err,
                TerminalError::TokenRefused {
                    reason: TokenRejection::Unsupported,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("currency tokens"), "{err}");
        // A 14.20 currency token: exactly 14.20 credited; closes the relay.
        let token = vend_money(&site, 2, 1420, "2026-03-02T13:55", 3);
        let said = m.keypad(t + 5 * 3600, &token).unwrap();
        assert!(said.contains("14.2"), "{said}");
        let v = m.view(t + 5 * 3600);
        assert_eq!(v.relay, RelayState::Closed);
        let net1 = Money::parse("14.2").unwrap().checked_add(net0).unwrap();
        assert_eq!(v.balance, Some(net1));
        assert_eq!(v.tokens_accepted, 1);
        // The same token again: used.
        let err = m.keypad(t + 5 * 3600 + 60, &token).unwrap_err();
        assert!(
            matches!(
                err,
                TerminalError::TokenRefused {
                    reason: TokenRejection::Used,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("already used"), "{err}");
        // Another meter's token: authentication fails.
        let err = m
            .keypad(t + 5 * 3600 + 60, "1234-5678-9012-3456-7890")
            .unwrap_err();
        assert!(
            matches!(
                err,
                TerminalError::TokenRefused {
                    reason: TokenRejection::Authentication | TokenRejection::Format,
                    ..
                }
            ),
            "{err:?}"
        );
        let v = m.view(t + 5 * 3600 + 60);
        assert_eq!((v.tokens_accepted, v.tokens_rejected), (1, 3));
        assert!(v.balance.unwrap() <= net1);
        let mut ev = Vec::new();
        m.take_events(&mut ev);
        let kinds: Vec<u8> = ev.iter().map(StationEvent::erc).collect();
        // low alarm at the start is not reported (opening state); exhausted alarm, trip,
        // the energy token rejected, token accepted, relay closed by the token, two
        // rejections.
        assert_eq!(kinds, vec![23, 33, 20, 33, 19, 20, 20]);
        let v = m.view(t + 5 * 3600 + 60);
        assert_eq!((v.trips, v.restores), (1, 1));
        assert!(v.alarms >= 1);
    }
}
