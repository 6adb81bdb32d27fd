//! Data-unit regions of the common master-station requests, written into a caller's buffer
//! (pass the region to [`FrameBuilder`](crate::FrameBuilder) via `FrameWriter::raw`, or to
//! [`MasterSession::request`](crate::session::master::MasterSession::request)).
//!
//! Each function returns the number of bytes written. AFN and the control byte are the caller's:
//! reads are AFN 0C/0D/0E/0A/09 with C = `4B`, controls AFN 05 and settings AFN 04 with C = `4A`,
//! forwarding AFN 10.
//!
//! ```
//! use amikit_gdw376::requests;
//! use amikit_gdw376::units::RemoteTrip;
//!
//! let mut region = [0u8; 16];
//! // AFN 05 F1, control round 1, trip after a 2-minute alarm.
//! let n = requests::remote_trip(&mut region, 1, RemoteTrip { alarm_delay_min: 2, limit_half_hours: 0 }).unwrap();
//! assert_eq!(&region[..n], &[0x01, 0x01, 0x01, 0x00, 0x20]);
//! ```

use crate::dadt::{DaDt, InfoClass, Pn};
use crate::error::EncodeError;
use crate::format::Format01;
use crate::units::UnitLayout as _;
use crate::units::{
    EventRequest, ForwardRequest, GuardOn, PurchaseControl, RemoteTrip, TimeLabel, Writer,
};

fn unit(
    out: &mut [u8],
    pn: Pn,
    fn_: InfoClass,
    data: impl FnOnce(&mut Writer<'_>) -> Result<(), EncodeError>,
) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    w.bytes(&DaDt::single(pn, fn_)?.to_bytes())?;
    data(&mut w)?;
    Ok(w.pos())
}

/// A read of several Fn of several points (AFN 0C / 0A / 09 …): one DA/DT per (pn, Fn) group
/// of eight, no data.
///
/// # Errors
///
/// [`EncodeError`] (points or Fn not in one group of eight, buffer too small).
pub fn read(out: &mut [u8], pns: &[Pn], fns: &[InfoClass]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    w.bytes(&DaDt::group(pns, fns)?.to_bytes())?;
    Ok(w.pos())
}

/// AFN 0D request: one (pn, Fn) with its time label (Td_d, Td_m or Td_c).
///
/// # Errors
///
/// [`EncodeError`].
pub fn frozen(
    out: &mut [u8],
    pn: Pn,
    fn_: InfoClass,
    label: &TimeLabel,
) -> Result<usize, EncodeError> {
    unit(out, pn, fn_, |w| label.emit(w))
}

/// AFN 0E F1 (important) / F2 (normal) request for events `pm ≤ i < pn`.
///
/// # Errors
///
/// [`EncodeError`].
pub fn events(out: &mut [u8], important: bool, pm: u8, pn: u8) -> Result<usize, EncodeError> {
    let f = if important {
        InfoClass(1)
    } else {
        InfoClass(2)
    };
    unit(out, Pn::P0, f, |w| EventRequest { pm, pn }.emit(w))
}

/// AFN 05 F1: remote trip of a control round.
///
/// # Errors
///
/// [`EncodeError`].
pub fn remote_trip(out: &mut [u8], round: u16, trip: RemoteTrip) -> Result<usize, EncodeError> {
    unit(out, Pn(round), InfoClass(1), |w| trip.emit(w))
}

/// AFN 05 F2: allow close of a control round.
///
/// # Errors
///
/// [`EncodeError`].
pub fn allow_close(out: &mut [u8], round: u16) -> Result<usize, EncodeError> {
    unit(out, Pn(round), InfoClass(2), |_| Ok(()))
}

/// AFN 05 F25 (guard / keep-supply on, `half_hours` 0 = until off) or F33 (off).
///
/// # Errors
///
/// [`EncodeError`].
pub fn guard(out: &mut [u8], on: Option<GuardOn>) -> Result<usize, EncodeError> {
    match on {
        Some(g) => unit(out, Pn::P0, InfoClass(25), |w| g.emit(w)),
        None => unit(out, Pn::P0, InfoClass(33), |_| Ok(())),
    }
}

/// AFN 05 F26 (payment-reminder alarm on) or F34 (off).
///
/// # Errors
///
/// [`EncodeError`].
pub fn reminder(out: &mut [u8], on: bool) -> Result<usize, EncodeError> {
    unit(
        out,
        Pn::P0,
        if on { InfoClass(26) } else { InfoClass(34) },
        |_| Ok(()),
    )
}

/// AFN 05 F16 (purchase-energy control on) or F24 (off) for a total-add group.
///
/// # Errors
///
/// [`EncodeError`].
pub fn purchase_control(out: &mut [u8], group: u16, on: bool) -> Result<usize, EncodeError> {
    unit(
        out,
        Pn(group),
        if on { InfoClass(16) } else { InfoClass(24) },
        |_| Ok(()),
    )
}

/// AFN 05 F31: clock synchronisation.
///
/// # Errors
///
/// [`EncodeError`].
pub fn clock_sync(out: &mut [u8], clock: &Format01) -> Result<usize, EncodeError> {
    unit(out, Pn::P0, InfoClass(31), |w| w.fmt(Some(clock)))
}

/// AFN 04 F47: purchase-control parameters of a total-add group (order, append/refresh,
/// amount and thresholds in format 03).
///
/// # Errors
///
/// [`EncodeError`].
pub fn purchase_parameters(
    out: &mut [u8],
    group: u16,
    p: &PurchaseControl,
) -> Result<usize, EncodeError> {
    unit(out, Pn(group), InfoClass(47), |w| p.emit(w))
}

/// AFN 10 F1: forward `request.payload` (e.g. a DL/T 645 frame) on a terminal port.
///
/// # Errors
///
/// [`EncodeError`].
pub fn forward(out: &mut [u8], request: &ForwardRequest<'_>) -> Result<usize, EncodeError> {
    unit(out, Pn::P0, InfoClass(1), |w| request.emit(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::CommControl;

    #[test]
    fn regions() {
        let mut b = [0u8; 64];
        let n = read(&mut b, &[Pn(1)], &[InfoClass(25)]).unwrap();
        assert_eq!(&b[..n], &[1, 1, 1, 3]); // as in gdw376-050
        let n = guard(&mut b, Some(GuardOn { half_hours: 4 })).unwrap();
        assert_eq!(&b[..n], &[0, 0, 1, 3, 4]);
        let n = guard(&mut b, None).unwrap();
        assert_eq!(&b[..n], &[0, 0, 1, 4]);
        let n = events(&mut b, true, 3, 7).unwrap();
        assert_eq!(&b[..n], &[0, 0, 1, 0, 3, 7]);
        let payload = [0x68, 0x16];
        let f = ForwardRequest {
            port: 2,
            control: CommControl::DLT645_2400_8E1,
            frame_timeout: 0x82,
            byte_timeout: 10,
            payload: &payload,
        };
        let n = forward(&mut b, &f).unwrap();
        assert_eq!(&b[..n], &[0, 0, 1, 0, 2, 0x6B, 0x82, 10, 2, 0, 0x68, 0x16]);
        let n = frozen(
            &mut b,
            Pn(1),
            InfoClass(17),
            &TimeLabel::Month(Some(crate::format::Format21 { month: 7, year: 18 })),
        )
        .unwrap();
        assert_eq!(&b[..n], &[1, 1, 1, 2, 0x07, 0x18]); // as in gdw376-070
        assert_eq!(allow_close(&mut b, 2).unwrap(), 4);
        assert_eq!(reminder(&mut b, true).unwrap(), 4);
        assert_eq!(purchase_control(&mut b, 1, false).unwrap(), 4);
        assert_eq!(b[2..4], [0x80, 2]); // F24
    }
}
