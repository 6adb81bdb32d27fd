//! The meter side: parse a request addressed to this meter and build the normal or abnormal
//! reply, so that a meter simulator takes a few lines.
//!
//! Implement [`Handler`] (every method has a safe default that refuses) and call
//! [`Meter::serve`] with each frame the deframer delivers; it returns the reply to transmit,
//! or nothing for frames that are not for this meter, replies, and broadcasts.
//!
//! ```
//! use amikit_dlt645::meter::{Handler, Meter};
//! use amikit_dlt645::{Address, DataId, Di, ErrorWord, Frame, RemoteControl, Repr};
//!
//! struct Sim { remaining_money: [u8; 4], relay_open: bool }
//! impl Handler for Sim {
//!     fn read(&mut self, di: DataId, out: &mut [u8]) -> Result<usize, ErrorWord> {
//!         match di {
//!             DataId::V2007(Di::REMAINING_MONEY) => {
//!                 out.get_mut(..4).ok_or(ErrorWord(ErrorWord::OTHER))?.copy_from_slice(&self.remaining_money);
//!                 Ok(4)
//!             }
//!             _ => Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA)),
//!         }
//!     }
//!     fn remote_control(&mut self, rc: &RemoteControl<'_>) -> Result<(), ErrorWord> {
//!         self.relay_open = rc.command() == Some(amikit_dlt645::RemoteCommand::Trip);
//!         Ok(())
//!     }
//! }
//!
//! let me = Address::parse("000012345678").unwrap();
//! let meter = Meter::new(me);
//! let mut sim = Sim { remaining_money: [0x56, 0x34, 0x12, 0x00], relay_open: false };
//! // the master reads the remaining money
//! let (req, n) = Repr::read(me, Di::REMAINING_MONEY).to_array::<32>().unwrap();
//! let frame = Frame::new_checked(&req[..n]).unwrap();
//! let mut out = [0u8; 64];
//! let len = meter.serve(&mut sim, &frame, &mut out).unwrap().unwrap();
//! let reply = Repr::parse_bytes(&out[..len], amikit_dlt645::Edition::V2007).unwrap();
//! assert_eq!(reply.control().unwrap().0, 0x91);
//! ```

use crate::address::Address;
use crate::control::{Edition, Function};
use crate::data::Data;
use crate::di::{DataId, Di};
use crate::error::{EncodeError, ParseError};
use crate::error_word::ErrorWord;
use crate::frame::Frame;
use crate::remote::RemoteControl;
use crate::reply::Reply;
use crate::repr::{Body, Repr};
use crate::request::{Auth, BaudRate, FreezeTime, OperatorCode, Password, Request};
use crate::value::DateTime;

/// Largest value a single read reply carries (200 − 4-byte DI).
pub const MAX_READ_DATA: usize = 196;

/// What the meter application does with each request. Defaults refuse: reads answer "no
/// requested data", writes and controls "unauthorised", the rest "other error"; broadcasts
/// are ignored.
pub trait Handler {
    /// Writes the value of `di` (plain bytes, wire order) into `out`; returns its length.
    fn read(&mut self, di: DataId, out: &mut [u8]) -> Result<usize, ErrorWord> {
        let _ = (di, out);
        Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA))
    }

    /// Writes `data` to `di` after checking the password (and, 2007, logging the operator).
    fn write(
        &mut self,
        di: DataId,
        password: Password,
        operator: Option<OperatorCode>,
        data: Data<'_>,
    ) -> Result<(), ErrorWord> {
        let _ = (di, password, operator, data);
        Err(ErrorWord(ErrorWord::UNAUTHORISED))
    }

    /// A broadcast time synchronisation (no reply is sent).
    fn broadcast_time(&mut self, time: DateTime) {
        let _ = time;
    }

    /// Remote control (trip, allow close, …).
    fn remote_control(&mut self, command: &RemoteControl<'_>) -> Result<(), ErrorWord> {
        let _ = command;
        Err(ErrorWord(ErrorWord::UNAUTHORISED))
    }

    /// Freeze.
    fn freeze(&mut self, time: FreezeTime) -> Result<(), ErrorWord> {
        let _ = time;
        Err(ErrorWord(ErrorWord::OTHER))
    }

    /// Change the communication rate; returns the rate to confirm.
    fn change_baud(&mut self, baud: BaudRate) -> Result<BaudRate, ErrorWord> {
        let _ = baud;
        Err(ErrorWord(ErrorWord::BAUD_RATE_UNCHANGEABLE))
    }

    /// Change a password; returns the password now in force.
    fn change_password(
        &mut self,
        di: Option<Di>,
        old: Password,
        new: Password,
    ) -> Result<Password, ErrorWord> {
        let _ = (di, old, new);
        Err(ErrorWord(ErrorWord::UNAUTHORISED))
    }

    /// Write address (only when the meter is addressed with `AA…AA` on a point-to-point line).
    fn write_address(&mut self, address: Address) -> Result<(), ErrorWord> {
        let _ = address;
        Err(ErrorWord(ErrorWord::UNAUTHORISED))
    }

    /// Clear maximum demand / meter / events (`event` for clear events).
    fn clear(
        &mut self,
        function: Function,
        auth: Option<Auth>,
        event: Option<Di>,
    ) -> Result<(), ErrorWord> {
        let _ = (function, auth, event);
        Err(ErrorWord(ErrorWord::UNAUTHORISED))
    }

    /// Any other request (security authentication, follow-up reads, output control…).
    fn other(&mut self, request: &Request<'_>) -> Result<(), ErrorWord> {
        let _ = request;
        Err(ErrorWord(ErrorWord::OTHER))
    }
}

/// One meter's identity on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meter {
    /// Its address.
    pub address: Address,
    /// Its edition.
    pub edition: Edition,
    /// `FE` bytes to send before each reply.
    pub preamble: u8,
}

impl Meter {
    /// A 2007 meter without reply preamble.
    pub const fn new(address: Address) -> Self {
        Meter {
            address,
            edition: Edition::V2007,
            preamble: 0,
        }
    }

    /// A meter of another edition.
    pub const fn with_edition(mut self, edition: Edition) -> Self {
        self.edition = edition;
        self
    }

    /// Whether a frame is a request this meter must look at (its address, a matching wildcard
    /// or broadcast).
    pub fn is_for_me<T: AsRef<[u8]> + ?Sized>(&self, frame: &Frame<&T>) -> bool {
        !frame.control().is_reply() && frame.address().matches(self.address)
    }

    /// Parses a request addressed to this meter; `None` for other meters' frames and replies.
    pub fn accept<'a, T: AsRef<[u8]> + ?Sized>(
        &self,
        frame: &Frame<&'a T>,
    ) -> Option<Result<Repr<'a>, ParseError>> {
        if !self.is_for_me(frame) {
            return None;
        }
        Some(Repr::parse(frame, self.edition))
    }

    /// A normal read reply carrying `data` (plain bytes).
    pub const fn read_reply<'a>(&self, di: DataId, data: Data<'a>, more: bool) -> Repr<'a> {
        self.repr(Body::Reply(Reply::Read { di, data, more }))
    }

    /// A normal reply.
    pub const fn reply<'a>(&self, reply: Reply<'a>) -> Repr<'a> {
        self.repr(Body::Reply(reply))
    }

    /// An abnormal reply to `function`.
    pub const fn error_reply(&self, function: Function, error: ErrorWord) -> Repr<'static> {
        self.repr(Body::Abnormal {
            function,
            error,
            extra: Data::EMPTY,
        })
    }

    const fn repr<'a>(&self, body: Body<'a>) -> Repr<'a> {
        Repr {
            edition: self.edition,
            preamble: self.preamble,
            address: self.address,
            body,
        }
    }

    /// Handles one frame: parses it if it is for this meter, calls `handler`, and writes the
    /// reply into `out`. Returns `None` when nothing is to be sent (not for this meter, a
    /// reply, a broadcast, or an unparsable request — a real meter stays silent then).
    pub fn serve<H: Handler + ?Sized, T: AsRef<[u8]> + ?Sized>(
        &self,
        handler: &mut H,
        frame: &Frame<&T>,
        out: &mut [u8],
    ) -> Option<Result<usize, EncodeError>> {
        let request = match self.accept(frame)? {
            Ok(Repr {
                body: Body::Request(r),
                ..
            }) => r,
            _ => return None,
        };
        let broadcast = frame.address().is_broadcast();
        let f = request.function();
        let mut value = [0u8; MAX_READ_DATA];
        let reply: Result<Reply<'_>, ErrorWord> = match request {
            Request::BroadcastTime { time } => {
                handler.broadcast_time(time);
                return None;
            }
            Request::Read { di, .. } => match handler.read(di, &mut value) {
                Ok(n) => match value.get(..n) {
                    Some(v) => Ok(Reply::Read {
                        di,
                        data: Data::plain(v),
                        more: false,
                    }),
                    None => Err(ErrorWord(ErrorWord::OTHER)),
                },
                Err(e) => Err(e),
            },
            Request::ReadAddress => Ok(Reply::ReadAddress {
                address: self.address,
            }),
            Request::Write {
                di,
                password,
                operator,
                data,
            } => handler
                .write(di, password, operator, data)
                .map(|()| Reply::Ack(f)),
            Request::WriteAddress { address } => {
                handler.write_address(address).map(|()| Reply::Ack(f))
            }
            Request::Freeze { time } => handler.freeze(time).map(|()| Reply::Ack(f)),
            Request::ChangeBaud { baud } => handler
                .change_baud(baud)
                .map(|baud| Reply::ChangeBaud { baud }),
            Request::ChangePassword { di, old, new } => handler
                .change_password(di, old, new)
                .map(|new| Reply::ChangePassword { new }),
            Request::ClearMaxDemand { auth } => {
                handler.clear(f, auth, None).map(|()| Reply::Ack(f))
            }
            Request::ClearMeter { auth } => {
                handler.clear(f, Some(auth), None).map(|()| Reply::Ack(f))
            }
            Request::ClearEvents { auth, event } => handler
                .clear(f, Some(auth), Some(event))
                .map(|()| Reply::Ack(f)),
            Request::RemoteControl(rc) => handler.remote_control(&rc).map(|()| Reply::Ack(f)),
            Request::MultiFunctionOutput { mode } => handler
                .other(&request)
                .map(|()| Reply::MultiFunctionOutput { mode }),
            other => handler.other(&other).map(|()| Reply::Ack(f)),
        };
        if broadcast {
            return None;
        }
        let repr = match reply {
            Ok(r) => self.reply(r),
            Err(e) => self.error_reply(f, e),
        };
        Some(repr.emit(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::RemoteCommand;

    #[derive(Default)]
    struct Sim {
        tripped: bool,
        time: Option<DateTime>,
    }
    impl Handler for Sim {
        fn read(&mut self, di: DataId, out: &mut [u8]) -> Result<usize, ErrorWord> {
            if di == DataId::V2007(Di::STATUS_WORD_3) {
                let w: u16 = if self.tripped { 0x0050 } else { 0 };
                out.get_mut(..2)
                    .ok_or(ErrorWord(1))?
                    .copy_from_slice(&w.to_le_bytes());
                return Ok(2);
            }
            Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA))
        }
        fn remote_control(&mut self, rc: &RemoteControl<'_>) -> Result<(), ErrorWord> {
            match rc.command() {
                Some(RemoteCommand::Trip) => self.tripped = true,
                Some(RemoteCommand::DirectClose) => self.tripped = false,
                _ => return Err(ErrorWord(ErrorWord::OTHER)),
            }
            Ok(())
        }
        fn broadcast_time(&mut self, time: DateTime) {
            self.time = Some(time);
        }
    }

    fn serve(meter: &Meter, sim: &mut Sim, req: &Repr<'_>) -> Option<Repr<'static>> {
        let (buf, n) = req.to_array::<64>().unwrap();
        let frame = Frame::new_checked(&buf[..n]).unwrap();
        let mut out = [0u8; 64];
        let len = meter.serve(sim, &frame, &mut out)?.unwrap();
        // copy into a leaked-free owned form: compare control/body via a static buffer
        let reply = Repr::parse_bytes(&out[..len], meter.edition).unwrap();
        Some(Repr {
            body: match reply.body {
                Body::Reply(Reply::Read { di, .. }) => Body::Reply(Reply::Read {
                    di,
                    data: Data::EMPTY,
                    more: false,
                }),
                Body::Reply(r) => Body::Reply(match r {
                    Reply::Ack(f) => Reply::Ack(f),
                    Reply::ReadAddress { address } => Reply::ReadAddress { address },
                    _ => Reply::Ack(Function::Unknown(0)),
                }),
                Body::Abnormal {
                    function, error, ..
                } => Body::Abnormal {
                    function,
                    error,
                    extra: Data::EMPTY,
                },
                Body::Request(_) | Body::Unknown { .. } => return None,
            },
            ..Repr::new(
                reply.edition,
                reply.address,
                Body::Reply(Reply::Ack(Function::Read)),
            )
        })
    }

    #[test]
    fn trip_then_status() {
        let me = Address::from_number(12_345_678).unwrap();
        let meter = Meter::new(me);
        let mut sim = Sim::default();
        let until = DateTime::ymd_hms(2030, 1, 1, 0, 0, 0).unwrap();
        let auth = Auth {
            password: Password::new(2, 0),
            operator: OperatorCode([1, 2, 3, 4]),
        };
        let trip = Repr::request(
            Edition::V2007,
            me,
            Request::RemoteControl(RemoteControl::plain(auth, RemoteCommand::Trip, until)),
        );
        let r = serve(&meter, &mut sim, &trip).unwrap();
        assert_eq!(r.body, Body::Reply(Reply::Ack(Function::RemoteControl)));
        assert_eq!(r.control().unwrap().0, 0x9C);
        assert!(sim.tripped);
        // unsupported command -> DC with error word
        let alarm = Repr::request(
            Edition::V2007,
            me,
            Request::RemoteControl(RemoteControl::plain(auth, RemoteCommand::Alarm, until)),
        );
        let r = serve(&meter, &mut sim, &alarm).unwrap();
        assert_eq!(r.control().unwrap().0, 0xDC);
        // unknown DI -> D1 no requested data
        let r = serve(&meter, &mut sim, &Repr::read(me, Di(0x0001_0000))).unwrap();
        assert_eq!(
            r.body,
            Body::Abnormal {
                function: Function::Read,
                error: ErrorWord(2),
                extra: Data::EMPTY
            }
        );
        // another meter's frame: silence
        let other = Address::from_number(1).unwrap();
        assert!(serve(&meter, &mut sim, &Repr::read(other, Di::STATUS_WORD_3)).is_none());
        // read address via the wildcard
        let ra = Repr::request(Edition::V2007, Address::WILDCARD, Request::ReadAddress);
        let r = serve(&meter, &mut sim, &ra).unwrap();
        assert_eq!(r.body, Body::Reply(Reply::ReadAddress { address: me }));
        // broadcast time: handled, no reply
        let bt = Repr::request(
            Edition::V2007,
            Address::BROADCAST,
            Request::BroadcastTime { time: until },
        );
        assert!(serve(&meter, &mut sim, &bt).is_none());
        assert_eq!(sim.time, Some(until));
    }
}
