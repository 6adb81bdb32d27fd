//! Vending: STS **currency** tokens for meters with a keypad (class 0 subclass 4, the amount
//! in the site's currency unit; TID; DKGA04 + MISTY1 through `amikit-sts`). The token carries
//! the money paid plus the customer's vend remainder, rounded down to what the amount code
//! can carry; the rest is the new remainder ([`vend_split`](super::super::vend_split)). No
//! tariff converts money to energy here, nor energy back to money on the meter.

use amikit_sts::dkga::VendingKey;
use amikit_sts::keys::{
    EncryptionAlgorithm, KeyParameters, KeyRevision, KeyType, SupplyGroupCode, TariffIndex,
};
use amikit_sts::tid::{BaseDate, Tid};
use amikit_sts::vend::{Issue, Vendor};
use amikit_tariff::Money;
use serde_json::Value;
use tokio::sync::oneshot;

use super::super::error::{ApiError, MasterError, MasterResult};
use super::super::msg::AuditStamp;
use super::super::store::Write;
use super::super::vend_split::{self, CurrencyVend, VendSplitError};
use super::super::views::{self, SimTime, VendView, to_json};
use super::commit::Effect;
use super::{Core, Writes};
use crate::clock::SimSeconds;

/// A token made, not yet stored.
struct Vended {
    token: amikit_sts::token::Token,
    meter_id: i64,
    customer: i64,
    account: usize,
    tid: u32,
    split: CurrencyVend,
    carried: Money,
    address: String,
}

impl Core {
    pub(super) fn vend(
        &mut self,
        slot: usize,
        amount: Money,
        order_no: String,
        seller: String,
        audit: AuditStamp,
        reply: oneshot::Sender<Result<Value, ApiError>>,
    ) {
        let at = self.now();
        let v = match self.vend_token(slot, amount, at) {
            Ok(x) => x,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let digits = v.token.to_string();
        let grouped = format!("{:#}", v.token);
        let answer = to_json(&VendView {
            status: "vended",
            token: digits.clone(),
            token_grouped: grouped,
            meter: v.address.clone(),
            customer: v.customer,
            amount: amount.to_string(),
            carried_in: v.carried.to_string(),
            credit: v.split.credit.to_string(),
            remainder: v.split.remainder.to_string(),
            tid: v.tid,
            order_no: order_no.clone(),
            sold_by: seller.clone(),
            at: SimTime::at(at),
        });
        // The token, the customer's new remainder, its event and audit row and the answer in
        // one unit of the customer's chain: the digits go out only once stored
        // (synchronous = FULL); a failure returns the remainder to its committed value. A
        // concurrent request with the same order number fails on the unique key (503) and its
        // retry answers "duplicate".
        if let Some(acc) = self.accounts.get_mut(v.account) {
            acc.vend_remainder = v.split.remainder;
        }
        let mut w = Writes::for_account(v.account);
        w.push(Write::Token {
            meter: v.meter_id,
            order_no: order_no.clone(),
            token: digits,
            tenths: 0,
            tid: v.tid,
            at,
            amount: amount.raw(),
            sold_by: seller,
            customer: v.customer,
            credit: v.split.credit.raw(),
            remainder: v.split.remainder.raw(),
        });
        w.event(
            at,
            Some(v.customer),
            None,
            "token",
            &views::TokenSold {
                meter: &v.address,
                order_no: &order_no,
                amount: amount.to_string(),
                credit: v.split.credit.to_string(),
                remainder: v.split.remainder.to_string(),
                tid: v.tid,
            },
        );
        w.push(audit.row(
            at,
            200,
            format!(
                "token {order_no}: {amount} for meter {}, credit {}, TID {}",
                v.address, v.split.credit, v.tid
            ),
        ));
        w.effect(Effect::Reply { reply, answer });
        self.flush(w);
    }

    fn vend_token(
        &mut self,
        slot: usize,
        amount: Money,
        at: SimSeconds,
    ) -> Result<Vended, ApiError> {
        let info = self
            .shared
            .meters
            .get(slot)
            .ok_or_else(|| ApiError::new(404, "no such meter"))?;
        let ms = self
            .meters
            .get(slot)
            .ok_or_else(|| ApiError::new(404, "no such meter"))?;
        let vendor = ms.vendor.as_ref().ok_or_else(|| {
            ApiError::new(409, "this meter has no STS keypad (or no vending key)")
        })?;
        let account = ms.account;
        let acc = self
            .accounts
            .get(account)
            .ok_or_else(|| ApiError::new(404, "no customer for this meter"))?;
        if !amount.is_positive() {
            return Err(ApiError::new(400, "amount must be positive"));
        }
        let carried = acc.vend_remainder;
        let split =
            vend_split::split(amount, carried, self.currency_unit).map_err(|e| match e {
                VendSplitError::TooSmall | VendSplitError::TooLarge => {
                    ApiError::new(422, e.to_string())
                }
                VendSplitError::BadUnit | VendSplitError::Overflow => {
                    ApiError::new(500, e.to_string())
                }
            })?;
        let civil = crate::clock::Civil::from_sim(at);
        let sts_at = amikit_sts::tid::DateTime::new(
            u16::try_from(civil.year).unwrap_or(2000),
            civil.month,
            civil.day,
            civil.hour,
            civil.minute,
            civil.second,
        )
        .map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        let mut tid = Tid::for_issue(&sts_at, ms.base_date)
            .map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        if let Some(last) = ms.last_tid
            && u32::from(tid) <= last
        {
            // Two tokens in the same minute: the meter refuses a TID it has seen.
            let mut next = last.saturating_add(1);
            while Tid::try_from(next).is_ok_and(Tid::is_reserved) {
                next = next.saturating_add(1);
            }
            tid = Tid::try_from(next).map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        }
        let rnd = amikit_sts::block::Rnd::from_bits(
            (u32::from(tid) ^ u32::from(u16::from(split.amount))) as u8,
        );
        // IEC 62055-41 token class 0, subclass 4: currency transfer for electricity.
        let token = vendor
            .currency_credit(
                amikit_sts::block::CreditKind::Electricity,
                split.amount,
                Issue::Tid(tid),
                rnd,
            )
            .map_err(|e| ApiError::new(500, format!("vend: {e}")))?;
        let vended = Vended {
            token,
            meter_id: info.id,
            customer: acc.id,
            account,
            tid: u32::from(tid),
            split,
            carried,
            address: info.address_text.clone(),
        };
        if let Some(ms) = self.meters.get_mut(slot) {
            ms.last_tid = Some(u32::from(tid));
        }
        Ok(vended)
    }
}

pub(super) fn sts_vendor(
    key: &VendingKey,
    sts: &crate::site::StsMeter,
) -> MasterResult<(Vendor<'static>, BaseDate)> {
    let e =
        |what: &str, err: &dyn std::fmt::Display| MasterError::config(format!("sts {what}"), err);
    let ti: u8 = sts.ti.parse().map_err(|x| e("ti", &x))?;
    let base_date = BaseDate::from_year(sts.base_date).map_err(|x| e("base date", &x))?;
    let params = KeyParameters {
        pan: sts.pan.parse().map_err(|x| e("pan", &x))?,
        sgc: sts
            .sgc
            .parse::<SupplyGroupCode>()
            .map_err(|x| e("sgc", &x))?,
        ti: TariffIndex::try_from(ti).map_err(|x| e("ti", &x))?,
        krn: KeyRevision::try_from(sts.krn).map_err(|x| e("krn", &x))?,
        kt: KeyType::try_from(sts.kt).map_err(|x| e("kt", &x))?,
        base_date,
        ea: EncryptionAlgorithm::Misty1,
    };
    let vendor = Vendor::for_meter(key, &params, None).map_err(|x| e("key", &x))?;
    Ok((vendor, base_date))
}
