//! A prepaid balance: credit (negative while an overdraft is in use), debt to recover, top-ups
//! that repay the overdraft and then the debt first, refunds, charges, and debt recovery as a
//! fixed amount per period or a percentage of each top-up, capped at the remaining debt.
//! Top-ups and refunds are idempotent by purchase order number.
//!
//! # Conservation
//!
//! The *net position* `credit − debt` changes only by top-ups (+), refunds (−), charges (−)
//! and new debt (−); moving money from credit to debt repayment leaves it unchanged. Every
//! operation is exact and all-or-nothing.
//!
//! # Order numbers
//!
//! Applied order numbers are remembered in a fixed window of the last `N` operations (a
//! const generic, 16 by default) — heap-free, so the window is finite: an order number older
//! than the last `N` operations is not recognised. Meters that must refuse every replay use a
//! monotone purchase count as well (the State Grid "count = last + 1" rule, which
//! `amikit-prepay` enforces).

use heapless::Deque;

use crate::calendar::{self, DateTime};
use crate::error::BalanceError;
use crate::quantity::{Money, Rounding};

/// A purchase order number (购电单号, STS token id, UTRN …) as an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct OrderNo(pub u64);

/// The calendar period of a fixed debt recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RecoveryPeriod {
    /// Every day at 00:00.
    Day,
    /// Every Monday at 00:00.
    Week,
    /// Every 1st of the month at 00:00.
    Month,
}

/// How debt is recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DebtRecovery {
    /// Each top-up repays the whole debt (after the overdraft) before anything reaches the
    /// credit.
    Full,
    /// Each top-up pays this share of its amount, in parts per million (rounded down to the
    /// money quantum), towards the debt, capped at the remaining debt (ZigBee SE "balance
    /// percentage").
    PercentOfTopUp {
        /// Share of each top-up, ppm (250 000 = 25 %).
        ppm: u32,
    },
    /// A fixed amount per period, collected from the credit by [`Balance::collect_debt`]
    /// (UK practice: e.g. a weekly rate); top-ups do not touch the debt.
    FixedPerPeriod {
        /// Amount per period.
        amount: Money,
        /// The period.
        period: RecoveryPeriod,
        /// If true, collect only from positive credit (stop while out of credit); if false,
        /// collection may run the credit into overdraft.
        only_from_credit: bool,
    },
}

/// Where a top-up went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct TopUpReceipt {
    /// The order number.
    pub order: OrderNo,
    /// The amount topped up.
    pub amount: Money,
    /// Part that repaid the overdraft.
    pub to_overdraft: Money,
    /// Part that repaid debt.
    pub to_debt: Money,
    /// Part that reached the credit.
    pub to_credit: Money,
}

/// The result of an idempotent operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Applied<T> {
    /// The operation was applied.
    Applied(T),
    /// The same order was applied before (same operation, same amount): nothing changed.
    Duplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum OpKind {
    TopUp,
    Refund,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Seen {
    order: OrderNo,
    kind: OpKind,
    amount: Money,
}

/// A prepaid balance with a window of the last `N` applied order numbers.
///
/// ```
/// use amikit_tariff::{Balance, DebtRecovery, Money, OrderNo};
/// let m = |s| Money::parse(s).unwrap();
/// // 5.00 overdraft in use, 20.00 of debt, 25 % of each top-up recovers debt.
/// let mut b: Balance = Balance::with_opening(m("-5"), m("20"), DebtRecovery::PercentOfTopUp { ppm: 250_000 })?;
/// let r = b.top_up(OrderNo(1001), m("100"))?;
/// let amikit_tariff::Applied::Applied(r) = r else { unreachable!() };
/// assert_eq!((r.to_overdraft, r.to_debt, r.to_credit), (m("5"), m("20"), m("75")));
/// assert_eq!(b.top_up(OrderNo(1001), m("100"))?, amikit_tariff::Applied::Duplicate);
/// assert_eq!((b.credit(), b.debt()), (m("75"), m("0")));
/// # Ok::<(), amikit_tariff::BalanceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(try_from = "BalanceRepr<N>")
)]
pub struct Balance<const N: usize = 16> {
    credit: Money,
    debt: Money,
    recovery: DebtRecovery,
    recovery_mark: Option<DateTime>,
    seen: Deque<Seen, N>,
}

/// The serialized form of a [`Balance`], checked on the way in (debt not negative, a valid
/// recovery rule).
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct BalanceRepr<const N: usize> {
    credit: Money,
    debt: Money,
    recovery: DebtRecovery,
    recovery_mark: Option<DateTime>,
    seen: Deque<Seen, N>,
}

#[cfg(feature = "serde")]
impl<const N: usize> TryFrom<BalanceRepr<N>> for Balance<N> {
    type Error = BalanceError;
    fn try_from(r: BalanceRepr<N>) -> Result<Self, BalanceError> {
        let mut b = Self::with_opening(r.credit, r.debt, r.recovery)?;
        b.recovery_mark = r.recovery_mark;
        b.seen = r.seen;
        Ok(b)
    }
}

impl<const N: usize> Balance<N> {
    /// An empty balance.
    #[must_use]
    pub const fn new(recovery: DebtRecovery) -> Self {
        Self {
            credit: Money::ZERO,
            debt: Money::ZERO,
            recovery,
            recovery_mark: None,
            seen: Deque::new(),
        }
    }

    /// A balance opened with `credit` (negative: overdraft in use) and `debt` (not negative).
    ///
    /// # Errors
    /// [`BalanceError::NonPositive`] for negative debt, [`BalanceError::BadRecovery`] for a
    /// percentage above 100 % or a negative fixed amount.
    pub fn with_opening(
        credit: Money,
        debt: Money,
        recovery: DebtRecovery,
    ) -> Result<Self, BalanceError> {
        if debt.is_negative() {
            return Err(BalanceError::NonPositive);
        }
        match recovery {
            DebtRecovery::PercentOfTopUp { ppm } if ppm > 1_000_000 => {
                return Err(BalanceError::BadRecovery);
            }
            DebtRecovery::FixedPerPeriod { amount, .. } if amount.is_negative() => {
                return Err(BalanceError::BadRecovery);
            }
            _ => {}
        }
        let mut b = Self::new(recovery);
        b.credit = credit;
        b.debt = debt;
        Ok(b)
    }

    /// Credit; negative while an overdraft is in use.
    #[must_use]
    pub const fn credit(&self) -> Money {
        self.credit
    }

    /// The overdraft in use (zero when the credit is not negative).
    #[must_use]
    pub fn overdraft(&self) -> Money {
        if self.credit.is_negative() {
            self.credit.checked_neg().unwrap_or(Money::MAX)
        } else {
            Money::ZERO
        }
    }

    /// Debt still to recover.
    #[must_use]
    pub const fn debt(&self) -> Money {
        self.debt
    }

    /// `credit − debt`.
    ///
    /// # Errors
    /// [`BalanceError::Quantity`] on overflow.
    pub fn net(&self) -> Result<Money, BalanceError> {
        Ok(self.credit.checked_sub(self.debt)?)
    }

    /// The recovery rule.
    #[must_use]
    pub const fn recovery(&self) -> DebtRecovery {
        self.recovery
    }

    fn check_seen(
        &self,
        order: OrderNo,
        kind: OpKind,
        amount: Money,
    ) -> Result<bool, BalanceError> {
        match self.seen.iter().find(|s| s.order == order) {
            None => Ok(false),
            Some(s) if s.kind == kind && s.amount == amount => Ok(true),
            Some(_) => Err(BalanceError::OrderConflict(order.0)),
        }
    }

    fn remember(&mut self, order: OrderNo, kind: OpKind, amount: Money) {
        if self.seen.is_full() {
            let _ = self.seen.pop_front();
        }
        let _ = self.seen.push_back(Seen {
            order,
            kind,
            amount,
        });
    }

    /// Tops up `amount` (positive) under `order`: first the overdraft is repaid, then debt
    /// according to the recovery rule, the rest is credit. The same order with the same amount
    /// again is a [`Applied::Duplicate`] no-op.
    ///
    /// # Errors
    /// [`BalanceError::NonPositive`], [`BalanceError::OrderConflict`] for a known order with
    /// another amount or operation, [`BalanceError::Quantity`] on overflow.
    pub fn top_up(
        &mut self,
        order: OrderNo,
        amount: Money,
    ) -> Result<Applied<TopUpReceipt>, BalanceError> {
        if !amount.is_positive() {
            return Err(BalanceError::NonPositive);
        }
        if self.check_seen(order, OpKind::TopUp, amount)? {
            return Ok(Applied::Duplicate);
        }
        let to_overdraft = amount.min(self.overdraft());
        let rest = amount.checked_sub(to_overdraft)?;
        let to_debt = match self.recovery {
            DebtRecovery::Full => rest.min(self.debt),
            DebtRecovery::PercentOfTopUp { ppm } => amount
                .mul_ratio(i64::from(ppm), 1_000_000, Rounding::Down)?
                .min(rest)
                .min(self.debt),
            DebtRecovery::FixedPerPeriod { .. } => Money::ZERO,
        };
        let to_credit = rest.checked_sub(to_debt)?;
        let credit = self
            .credit
            .checked_add(to_overdraft)?
            .checked_add(to_credit)?;
        let debt = self.debt.checked_sub(to_debt)?;
        self.credit = credit;
        self.debt = debt;
        self.remember(order, OpKind::TopUp, amount);
        Ok(Applied::Applied(TopUpReceipt {
            order,
            amount,
            to_overdraft,
            to_debt,
            to_credit,
        }))
    }

    /// Refunds `amount` (positive, at most the credit) under `order` (退费). Idempotent like
    /// [`Self::top_up`].
    ///
    /// # Errors
    /// [`BalanceError::NonPositive`], [`BalanceError::InsufficientCredit`],
    /// [`BalanceError::OrderConflict`].
    pub fn refund(
        &mut self,
        order: OrderNo,
        amount: Money,
    ) -> Result<Applied<Money>, BalanceError> {
        if !amount.is_positive() {
            return Err(BalanceError::NonPositive);
        }
        if self.check_seen(order, OpKind::Refund, amount)? {
            return Ok(Applied::Duplicate);
        }
        if amount > self.credit {
            return Err(BalanceError::InsufficientCredit);
        }
        self.credit = self.credit.checked_sub(amount)?;
        self.remember(order, OpKind::Refund, amount);
        Ok(Applied::Applied(self.credit))
    }

    /// Debits `amount` (not negative; a [`crate::Charge`]'s `total`) from the credit, which may
    /// go negative (the overdraft policy is the caller's). Returns the new credit.
    ///
    /// # Errors
    /// [`BalanceError::NonPositive`] for a negative amount, [`BalanceError::Quantity`].
    pub fn charge(&mut self, amount: Money) -> Result<Money, BalanceError> {
        if amount.is_negative() {
            return Err(BalanceError::NonPositive);
        }
        self.credit = self.credit.checked_sub(amount)?;
        Ok(self.credit)
    }

    /// Adds debt to recover (arrears, emergency credit used, a standing charge not paid).
    ///
    /// # Errors
    /// [`BalanceError::NonPositive`], [`BalanceError::Quantity`].
    pub fn add_debt(&mut self, amount: Money) -> Result<Money, BalanceError> {
        if !amount.is_positive() {
            return Err(BalanceError::NonPositive);
        }
        self.debt = self.debt.checked_add(amount)?;
        Ok(self.debt)
    }

    /// Collects fixed-rate debt recovery for the periods started since the last collection,
    /// up to `at`, from the credit, capped at the remaining debt (and at the positive credit
    /// if the rule says so). The first call only sets the mark. Other recovery rules: zero.
    ///
    /// # Errors
    /// [`BalanceError::Quantity`] on overflow.
    pub fn collect_debt(&mut self, at: DateTime) -> Result<Money, BalanceError> {
        let DebtRecovery::FixedPerPeriod {
            amount,
            period,
            only_from_credit,
        } = self.recovery
        else {
            return Ok(Money::ZERO);
        };
        let Some(mark) = self.recovery_mark else {
            self.recovery_mark = Some(at);
            return Ok(Money::ZERO);
        };
        let periods = match period {
            RecoveryPeriod::Day => calendar::days_started(mark, at),
            RecoveryPeriod::Week => calendar::weeks_started(mark, at),
            RecoveryPeriod::Month => calendar::months_started(mark, at),
        };
        let mut due = amount
            .checked_mul(i64::from(periods))
            .unwrap_or(Money::MAX)
            .min(self.debt);
        if only_from_credit {
            due = due.min(self.credit.max(Money::ZERO));
        }
        self.credit = self.credit.checked_sub(due)?;
        self.debt = self.debt.checked_sub(due)?;
        if at > mark {
            self.recovery_mark = Some(at);
        }
        Ok(due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }
    fn t(s: &str) -> DateTime {
        s.parse().unwrap()
    }

    #[test]
    fn top_up_repays_overdraft_then_debt() {
        // Overdraft 12.34, debt 50; Full recovery: 100 -> 12.34 overdraft, 50 debt, 37.66 credit.
        let mut b: Balance =
            Balance::with_opening(m("-12.34"), m("50"), DebtRecovery::Full).unwrap();
        let Applied::Applied(r) = b.top_up(OrderNo(1), m("100")).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.to_overdraft, r.to_debt, r.to_credit),
            (m("12.34"), m("50"), m("37.66"))
        );
        assert_eq!((b.credit(), b.debt()), (m("37.66"), Money::ZERO));
        // A small top-up that does not even clear the overdraft.
        let mut b: Balance =
            Balance::with_opening(m("-12.34"), m("50"), DebtRecovery::Full).unwrap();
        let Applied::Applied(r) = b.top_up(OrderNo(1), m("10")).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.to_overdraft, r.to_debt, r.to_credit),
            (m("10"), Money::ZERO, Money::ZERO)
        );
        assert_eq!(b.credit(), m("-2.34"));
    }

    #[test]
    fn percentage_recovery_is_capped() {
        // 30 % of 20.01 = 6.003 -> 6.0030 (exact at 1e-4); debt only 5: 5 to debt.
        let rule = DebtRecovery::PercentOfTopUp { ppm: 300_000 };
        let mut b: Balance = Balance::with_opening(Money::ZERO, m("5"), rule).unwrap();
        let Applied::Applied(r) = b.top_up(OrderNo(7), m("20.01")).unwrap() else {
            panic!()
        };
        assert_eq!((r.to_debt, r.to_credit), (m("5"), m("15.01")));
        // 33.3333 % of 0.0001 rounds down to 0.
        let rule = DebtRecovery::PercentOfTopUp { ppm: 333_333 };
        let mut b: Balance = Balance::with_opening(Money::ZERO, m("5"), rule).unwrap();
        let Applied::Applied(r) = b.top_up(OrderNo(8), Money::from_raw(1)).unwrap() else {
            panic!()
        };
        assert_eq!(r.to_debt, Money::ZERO);
        assert!(
            Balance::<4>::with_opening(
                Money::ZERO,
                Money::ZERO,
                DebtRecovery::PercentOfTopUp { ppm: 1_000_001 }
            )
            .is_err()
        );
    }

    #[test]
    fn fixed_recovery_per_week() {
        // 2.50 per week, debt 6: (Mon 2024-01-01, Mon 2024-01-22] starts 3 weeks = 7.50,
        // capped at 6.
        let rule = DebtRecovery::FixedPerPeriod {
            amount: m("2.5"),
            period: RecoveryPeriod::Week,
            only_from_credit: false,
        };
        let mut b: Balance = Balance::with_opening(m("1"), m("6"), rule).unwrap();
        assert_eq!(b.collect_debt(t("2024-01-01")).unwrap(), Money::ZERO);
        assert_eq!(
            b.top_up(OrderNo(1), m("10")).unwrap(),
            Applied::Applied(TopUpReceipt {
                order: OrderNo(1),
                amount: m("10"),
                to_overdraft: Money::ZERO,
                to_debt: Money::ZERO,
                to_credit: m("10"),
            })
        );
        assert_eq!(b.collect_debt(t("2024-01-08")).unwrap(), m("2.5"));
        assert_eq!(b.collect_debt(t("2024-01-22")).unwrap(), m("3.5"));
        assert_eq!((b.credit(), b.debt()), (m("5"), Money::ZERO));
        // only from credit: credit 1, debt 6, one month of 4 -> 1 collected
        let rule = DebtRecovery::FixedPerPeriod {
            amount: m("4"),
            period: RecoveryPeriod::Month,
            only_from_credit: true,
        };
        let mut b: Balance = Balance::with_opening(m("1"), m("6"), rule).unwrap();
        b.collect_debt(t("2024-01-15")).unwrap();
        assert_eq!(b.collect_debt(t("2024-02-01")).unwrap(), m("1"));
        assert_eq!((b.credit(), b.debt()), (Money::ZERO, m("5")));
    }

    #[test]
    fn idempotent_orders_and_refunds() {
        let mut b: Balance<2> = Balance::new(DebtRecovery::Full);
        b.top_up(OrderNo(1), m("10")).unwrap();
        assert_eq!(b.top_up(OrderNo(1), m("10")).unwrap(), Applied::Duplicate);
        assert_eq!(
            b.top_up(OrderNo(1), m("11")),
            Err(BalanceError::OrderConflict(1))
        );
        assert_eq!(
            b.refund(OrderNo(1), m("10")),
            Err(BalanceError::OrderConflict(1))
        );
        assert_eq!(
            b.refund(OrderNo(2), m("10.01")),
            Err(BalanceError::InsufficientCredit)
        );
        assert_eq!(
            b.refund(OrderNo(2), m("4")).unwrap(),
            Applied::Applied(m("6"))
        );
        assert_eq!(b.refund(OrderNo(2), m("4")).unwrap(), Applied::Duplicate);
        assert_eq!(b.credit(), m("6"));
        // The window holds 2: order 1 falls out after order 3.
        b.top_up(OrderNo(3), m("1")).unwrap();
        assert!(matches!(
            b.top_up(OrderNo(1), m("10")).unwrap(),
            Applied::Applied(_)
        ));
        assert_eq!(
            b.top_up(OrderNo(4), Money::ZERO),
            Err(BalanceError::NonPositive)
        );
        assert_eq!(b.charge(m("-1")), Err(BalanceError::NonPositive));
        assert_eq!(b.charge(m("20")).unwrap(), m("-3"));
        assert_eq!(b.overdraft(), m("3"));
    }
}
