//! Helpers shared by the integration tests.
#![allow(dead_code)]

use amikit_prepay::{
    CommandKind, Config, CreditState, DateTime, Engine, Input, Money, Output, Price, Profile,
    PurchaseId, Remote, Snapshot, TariffPricer, Timestamp, TopUpSource,
};
use amikit_tariff::{ChargeState, Energy, Tariff};

/// A customer's tariff and charging state; prices through `amikit-tariff`.
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub tariff: Tariff,
    pub state: ChargeState,
}

impl Customer {
    /// The customer's state as a transactional pricer (an `amikit-prepay` `TariffPricer`).
    pub(crate) fn pricer(&mut self) -> TariffPricer<'_, Tariff> {
        TariffPricer::new(&self.tariff, &mut self.state)
    }
}

/// Money from a decimal string.
pub(crate) fn m(s: &str) -> Money {
    Money::parse(s).unwrap()
}

/// 2026-01-07 (a Wednesday) at hh:mm.
pub(crate) fn wed(h: u8, min: u8) -> Timestamp {
    at(2026, 1, 7, h, min)
}

/// `year-month-day hh:mm`.
pub(crate) fn at(year: u16, month: u8, day: u8, h: u8, min: u8) -> Timestamp {
    Timestamp::from(DateTime::new(year, month, day, h, min, 0).unwrap())
}

/// A flat tariff of 0.5000 per kWh (`amikit_tariff::Tariff::flat`).
pub(crate) fn half() -> Customer {
    Customer {
        tariff: Tariff::flat(Price::parse("0.5").unwrap()).unwrap(),
        state: ChargeState::new(),
    }
}

/// `kwh` (decimal string) of consumption.
pub(crate) fn kwh(s: &str) -> Input {
    Input::Consume {
        energy: Energy::parse(s).unwrap(),
    }
}

/// A top-up with purchase count `n`.
pub(crate) fn top_up(amount: &str, n: u32, source: TopUpSource) -> Input {
    Input::TopUp {
        amount: m(amount),
        id: PurchaseId::Sequence(n),
        source,
    }
}

/// A remote command valid until `expires`.
pub(crate) fn remote(kind: CommandKind, expires: Timestamp) -> Input {
    Input::Remote(Remote {
        kind,
        expires,
        operator: 0x0102_0304,
    })
}

/// A fixed snapshot standing in for every `Persist` when comparing output lists.
pub(crate) const P: Output = Output::Persist(Snapshot {
    generation: 0,
    taken_at: Timestamp(0),
    balance: Money::ZERO,
    debt: Money::ZERO,
    credit: CreditState::Normal,
    relay: amikit_prepay::RelayState::Closed,
    flags: 0,
    alarm: None,
    last_sequence: 0,
    last_order: 0,
    overload_until: None,
    charging: None,
    checksum: 0,
});

/// Replaces the snapshot inside every `Persist` with [`P`]'s, so lists compare by order.
pub(crate) fn norm(outs: impl IntoIterator<Item = Output>) -> Vec<Output> {
    outs.into_iter()
        .map(|o| match o {
            Output::Persist(_) => P,
            o => o,
        })
        .collect()
}

/// Runs one input and returns the normalised outputs.
pub(crate) fn run(e: &mut Engine, p: &mut Customer, now: Timestamp, input: Input) -> Vec<Output> {
    let outs = e.step(now, input, &mut p.pricer());
    assert!(outs.len() < amikit_prepay::MAX_OUTPUTS);
    norm(outs)
}

/// An engine for `profile` with `config` adjusted by `f`, opening credit `balance`.
pub(crate) fn engine(profile: Profile, balance: &str, f: impl FnOnce(&mut Config)) -> Engine {
    let mut c = profile.config();
    f(&mut c);
    Engine::new(c, m(balance)).unwrap()
}
