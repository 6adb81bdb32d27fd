//! Data-unit regions of the common master-station requests, written into a caller's buffer
//! (pass the region to [`FrameBuilder`](crate::FrameBuilder) via `FrameWriter::raw`, or to
//! [`MasterSession::request`](crate::session::master::MasterSession::request)).
//!
//! A [`Request`] names the AFN it belongs to ([`Request::afn`]); [`Request::emit`] writes its
//! DA/DT and data and returns the number of bytes written. The control byte is the caller's:
//! reads are AFN 0C/0D/0E/0A/09 with C = `4B`, controls AFN 05 and settings AFN 04 with C = `4A`,
//! forwarding AFN 10.
//!
//! ```
//! use amikit_gdw376::Afn;
//! use amikit_gdw376::requests::Request;
//! use amikit_gdw376::units::RemoteTrip;
//!
//! let mut region = [0u8; 16];
//! // AFN 05 F1, control round 1, trip after a 2-minute alarm.
//! let trip = Request::RemoteTrip { round: 1, trip: RemoteTrip { alarm_delay_min: 2, limit_half_hours: 0 } };
//! let n = trip.emit(&mut region).unwrap();
//! assert_eq!(&region[..n], &[0x01, 0x01, 0x01, 0x00, 0x20]);
//! assert_eq!(trip.afn(), Afn::CONTROL);
//! ```

use crate::afn::Afn;
use crate::dadt::{DaDt, InfoClass, Pn};
use crate::error::EncodeError;
use crate::format::Format01;
use crate::units::UnitLayout as _;
use crate::units::{
    EventRequest, ForwardRequest, GuardOn, PurchaseControl, RemoteTrip, TimeLabel, Writer,
};

/// A common master-station request (Q/GDW 1376.1-2013 §5.5 AFN 04, 05, 0A, 0C, 0D, 0E, 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request<'a> {
    /// A read of several Fn of several points (AFN 0C / 0A / 09 …): one DA/DT per (pn, Fn)
    /// group of eight, no data. [`Request::afn`] says AFN 0C (class 1 data).
    Read {
        /// The points (one group of eight).
        pns: &'a [Pn],
        /// The Fn (one group of eight).
        fns: &'a [InfoClass],
    },
    /// AFN 0D request: one (pn, Fn) with its time label (Td_d, Td_m or Td_c).
    Frozen {
        /// The point.
        pn: Pn,
        /// The Fn.
        fn_: InfoClass,
        /// The time label.
        label: TimeLabel,
    },
    /// AFN 0E F1 (important) / F2 (normal) request for events `pm ≤ i < pn`.
    Events {
        /// Important (F1) or normal (F2) events.
        important: bool,
        /// First event pointer.
        pm: u8,
        /// End event pointer (exclusive).
        pn: u8,
    },
    /// AFN 05 F1: remote trip of a control round.
    RemoteTrip {
        /// The control round (pn).
        round: u16,
        /// Alarm delay and limit time.
        trip: RemoteTrip,
    },
    /// AFN 05 F2: allow close of a control round.
    AllowClose {
        /// The control round (pn).
        round: u16,
    },
    /// AFN 05 F25 (guard / keep-supply on, `half_hours` 0 = until off) or F33 (off, `None`).
    Guard(Option<GuardOn>),
    /// AFN 05 F26 (payment-reminder alarm on, `true`) or F34 (off).
    Reminder(bool),
    /// AFN 05 F16 (purchase-energy control on) or F24 (off) for a total-add group.
    PurchaseControl {
        /// The total-add group (pn).
        group: u16,
        /// On (F16) or off (F24).
        on: bool,
    },
    /// AFN 05 F31: clock synchronisation.
    ClockSync(Format01),
    /// AFN 04 F47: purchase-control parameters of a total-add group (order, append/refresh,
    /// amount and thresholds in format 03).
    PurchaseParameters {
        /// The total-add group (pn).
        group: u16,
        /// The parameters.
        params: PurchaseControl,
    },
    /// AFN 10 F1: forward `payload` (e.g. a DL/T 645 frame) on a terminal port.
    Forward(ForwardRequest<'a>),
}

impl Request<'_> {
    /// The AFN of the frame that carries this request.
    #[must_use]
    pub const fn afn(&self) -> Afn {
        match self {
            Request::Read { .. } => Afn::CLASS1,
            Request::Frozen { .. } => Afn::CLASS2,
            Request::Events { .. } => Afn::CLASS3,
            Request::PurchaseParameters { .. } => Afn::SET_PARAMETERS,
            Request::Forward(_) => Afn::FORWARD,
            Request::RemoteTrip { .. }
            | Request::AllowClose { .. }
            | Request::Guard(_)
            | Request::Reminder(_)
            | Request::PurchaseControl { .. }
            | Request::ClockSync(_) => Afn::CONTROL,
        }
    }

    /// Writes the request's data-unit region (DA/DT and data) into `out`; returns its length.
    ///
    /// # Errors
    ///
    /// [`EncodeError`] (points or Fn not in one group of eight, a field out of range, buffer
    /// too small).
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let mut w = Writer::new(out);
        let (pn, fn_) = match *self {
            Request::Read { pns, fns } => {
                w.bytes(&DaDt::group(pns, fns)?.to_bytes())?;
                return Ok(w.pos());
            }
            Request::Frozen { pn, fn_, .. } => (pn, fn_),
            Request::Events { important, .. } => (Pn::P0, InfoClass(if important { 1 } else { 2 })),
            Request::RemoteTrip { round, .. } => (Pn(round), InfoClass(1)),
            Request::AllowClose { round } => (Pn(round), InfoClass(2)),
            Request::Guard(on) => (Pn::P0, InfoClass(if on.is_some() { 25 } else { 33 })),
            Request::Reminder(on) => (Pn::P0, InfoClass(if on { 26 } else { 34 })),
            Request::PurchaseControl { group, on } => {
                (Pn(group), InfoClass(if on { 16 } else { 24 }))
            }
            Request::ClockSync(_) => (Pn::P0, InfoClass(31)),
            Request::PurchaseParameters { group, .. } => (Pn(group), InfoClass(47)),
            Request::Forward(_) => (Pn::P0, InfoClass(1)),
        };
        w.bytes(&DaDt::single(pn, fn_)?.to_bytes())?;
        match self {
            Request::Frozen { label, .. } => label.emit(&mut w)?,
            Request::Events { pm, pn, .. } => EventRequest { pm: *pm, pn: *pn }.emit(&mut w)?,
            Request::RemoteTrip { trip, .. } => trip.emit(&mut w)?,
            Request::Guard(Some(g)) => g.emit(&mut w)?,
            Request::ClockSync(clock) => w.fmt(Some(clock))?,
            Request::PurchaseParameters { params, .. } => params.emit(&mut w)?,
            Request::Forward(f) => f.emit(&mut w)?,
            Request::Read { .. }
            | Request::AllowClose { .. }
            | Request::Guard(None)
            | Request::Reminder(_)
            | Request::PurchaseControl { .. } => {}
        }
        Ok(w.pos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::CommControl;

    #[test]
    fn regions() {
        let mut b = [0u8; 64];
        let mut emit = |r: Request<'_>| {
            let n = r.emit(&mut b).unwrap();
            b[..n].to_vec()
        };
        let (p1, f25) = ([Pn(1)], [InfoClass(25)]);
        assert_eq!(
            emit(Request::Read {
                pns: &p1,
                fns: &f25
            }),
            [1, 1, 1, 3]
        ); // as in gdw376-050
        assert_eq!(
            emit(Request::Guard(Some(GuardOn { half_hours: 4 }))),
            [0, 0, 1, 3, 4]
        );
        assert_eq!(emit(Request::Guard(None)), [0, 0, 1, 4]);
        assert_eq!(
            emit(Request::Events {
                important: true,
                pm: 3,
                pn: 7
            }),
            [0, 0, 1, 0, 3, 7]
        );
        let payload = [0x68, 0x16];
        let f = ForwardRequest {
            port: 2,
            control: CommControl::DLT645_2400_8E1,
            frame_timeout: 0x82,
            byte_timeout: 10,
            payload: &payload,
        };
        assert_eq!(
            emit(Request::Forward(f)),
            [0, 0, 1, 0, 2, 0x6B, 0x82, 10, 2, 0, 0x68, 0x16]
        );
        assert_eq!(
            emit(Request::Frozen {
                pn: Pn(1),
                fn_: InfoClass(17),
                label: TimeLabel::Month(Some(crate::format::Format21 { month: 7, year: 18 })),
            }),
            [1, 1, 1, 2, 0x07, 0x18]
        ); // as in gdw376-070
        assert_eq!(emit(Request::AllowClose { round: 2 }).len(), 4);
        assert_eq!(emit(Request::Reminder(true)).len(), 4);
        let off = emit(Request::PurchaseControl {
            group: 1,
            on: false,
        });
        assert_eq!(off[2..4], [0x80, 2]); // F24
        assert_eq!(Request::Reminder(true).afn(), Afn::CONTROL);
        assert_eq!(Request::Forward(f).afn(), Afn::FORWARD);
    }
}
