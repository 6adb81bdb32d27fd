//! Vending: STS credit tokens for meters with a keypad (quote with the customer's tariff,
//! TID, DKGA04 + MISTY1 through `amikit-sts`).

use amikit_sts::dkga::VendingKey;
use amikit_sts::keys::{
    EncryptionAlgorithm, KeyParameters, KeyRevision, KeyType, SupplyGroupCode, TariffIndex,
};
use amikit_sts::tid::{BaseDate, Tid};
use amikit_sts::vend::{Issue, Vendor};
use amikit_tariff::{Energy, Money, Rounding};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::super::error::{ApiError, MasterError, MasterResult};
use super::super::msg::AuditStamp;
use super::super::sim_ts;
use super::super::store::Write;
use super::commit::Effect;
use super::views::at_json;
use super::{Core, Writes};
use crate::clock::SimSeconds;

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
        let r = self.vend_token(slot, amount, &order_no, at);
        let (token, meter_id, customer, tenths, tid, energy, address) = match r {
            Ok(x) => x,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let digits = token.to_string();
        let grouped = format!("{token:#}");
        let raw = amount.raw();
        let answer = json!({
            "status": "vended",
            "token": digits,
            "token_grouped": grouped,
            "meter": address,
            "customer": customer,
            "amount": amount.to_string(),
            "kwh": Energy::from_wh(i64::from(tenths) * 100).to_string(),
            "quoted_kwh": energy.to_string(),
            "tid": tid,
            "order_no": order_no,
            "at": at_json(at),
        });
        // The token, its event and the answer in one unit: the customer gets the digits only
        // once they are stored (synchronous = FULL). A concurrent request with the same order
        // number fails on the unique key (503) and its retry answers "duplicate".
        let mut w = Writes::default();
        w.push(Write::Token {
            meter: meter_id,
            order_no: order_no.clone(),
            token: digits,
            tenths,
            tid,
            at,
            amount: raw,
            sold_by: seller,
        });
        w.push(audit.row(
            at,
            200,
            format!("token {order_no}: {amount} for meter {address}, TID {tid}"),
        ));
        w.event(
            at,
            Some(customer),
            None,
            "token",
            json!({"meter": address, "order_no": order_no, "kwh_tenths": tenths, "tid": tid}),
        );
        w.effect(Effect::Reply { reply, answer });
        self.flush(w);
    }

    #[allow(clippy::type_complexity)]
    pub(super) fn vend_token(
        &mut self,
        slot: usize,
        amount: Money,
        _order_no: &str,
        at: SimSeconds,
    ) -> Result<(amikit_sts::token::Token, i64, i64, u32, u32, Energy, String), ApiError> {
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
        let acc = self
            .accounts
            .get(ms.account)
            .ok_or_else(|| ApiError::new(404, "no customer for this meter"))?;
        if !amount.is_positive() {
            return Err(ApiError::new(400, "amount must be positive"));
        }
        let now_dt = sim_ts(at)
            .to_datetime()
            .ok_or_else(|| ApiError::new(500, "clock outside the calendar"))?;
        let quote = acc
            .tariff
            .quote_money(
                Some(now_dt),
                acc.charge.period_energy(),
                amount,
                Rounding::Down,
            )
            .map_err(|e| ApiError::new(400, format!("quote: {e}")))?;
        let tenths = u32::try_from(quote.energy.wh() / 100)
            .map_err(|_| ApiError::new(400, "amount too large for one token"))?;
        if tenths == 0 {
            return Err(ApiError::new(400, "amount buys less than 0.1 kWh"));
        }
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
            && tid.value() <= last
        {
            // Two tokens in the same minute: the meter refuses a TID it has seen.
            let mut next = last.saturating_add(1);
            while Tid::new(next).is_ok_and(Tid::is_reserved) {
                next = next.saturating_add(1);
            }
            tid = Tid::new(next).map_err(|e| ApiError::new(500, format!("tid: {e}")))?;
        }
        let rnd = amikit_sts::block::Rnd::from_bits((tid.value() ^ (tenths << 3)) as u8);
        let token = vendor
            .credit(
                amikit_sts::block::CreditKind::Electricity,
                u64::from(tenths),
                Issue::Tid(tid),
                rnd,
            )
            .map_err(|e| ApiError::new(500, format!("vend: {e}")))?;
        let result = (
            token,
            info.id,
            acc.id,
            tenths,
            tid.value(),
            quote.energy,
            info.address_text.clone(),
        );
        if let Some(ms) = self.meters.get_mut(slot) {
            ms.last_tid = Some(tid.value());
        }
        Ok(result)
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
        ti: TariffIndex::new(ti).map_err(|x| e("ti", &x))?,
        krn: KeyRevision::new(sts.krn).map_err(|x| e("krn", &x))?,
        kt: KeyType::new(sts.kt).map_err(|x| e("kt", &x))?,
        base_date,
        ea: EncryptionAlgorithm::Misty1,
    };
    let vendor = Vendor::for_meter(key, &params, None).map_err(|x| e("key", &x))?;
    Ok((vendor, base_date))
}
