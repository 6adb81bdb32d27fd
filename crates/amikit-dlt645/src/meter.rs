//! The meter side: parse a request addressed to the meter, check it, hand it to the meter
//! application and build the normal or abnormal reply, so that a meter (or a simulator) takes
//! a few lines.
//!
//! Implement [`Handler`] (every method has a default that refuses) and call [`Meter::serve`]
//! with each frame the deframer delivers and the meter's clock; it returns the reply to
//! transmit, or nothing for frames that are not for this meter, replies, broadcasts and
//! requests a meter does not answer.
//!
//! What the framework does **before** the handler sees a request:
//!
//! * **Passwords, deny by default.** A request that carries a password (write, change
//!   password, the clears, remote control) reaches the handler only if one of the
//!   [`Credential`]s that [`Handler::credentials`] declares for that function (and identifier)
//!   admits it; otherwise the meter answers "unauthorised" (error word b2). The default declares
//!   none, so every password-protected request is refused.
//! * **Valid-until time of remote control.** A plaintext `1C` command (trip, allow close,
//!   direct close, alarm, guard) whose valid-until time `N3..N8` is before the `now` passed to
//!   [`Meter::serve`] is refused (error word b0) and never reaches
//!   [`Handler::remote_control`]; so is every plaintext command when `now` is not a complete
//!   date-time (the check fails closed). ESAM-encrypted commands carry the time inside the
//!   encrypted block: the handler checks it after decrypting.
//! * **Broadcasts.** Only broadcast time, freeze, change baud rate, write address and
//!   multi-function output are acted on when sent to `999999999999`; nothing is answered.
//! * **Write limit.** A write whose data field exceeds the meter's [`Limits`] (50 bytes by
//!   default, DL/T 645-2007 "写数据时 L≤50") is not acted on.
//!
//! After every request addressed to the meter — answered, refused or ignored —
//! [`Handler::audit`] receives an [`AuditRecord`]: the address as sent, control byte,
//! function, identifier, operator code, outcome and reason.
//!
//! **Multi-frame reads.** [`Handler::read`] writes the whole value into a buffer of `N` bytes
//! (the `N` of [`Meter<N>`], 196 by default: one frame). A longer value goes out in parts: the
//! read reply carries the first part with the follow-up bit (`B1`), and each read-follow-up
//! request (2007 `12` with `DI + SEQ`, SEQ = 1, 2, …; 1997 `02` with the DI) gets the next part
//! (2007 `92`/`B2` with `DI + data + SEQ`; 1997 `82`/`A2`). A repeated SEQ gets the same part
//! again (the master lost the reply); any other DI or SEQ is refused with "no requested data"
//! (error word b1). The DL/T 645-1997 re-read (`03`) repeats the last part sent (`83`/`A3`).
//! A new read request ends the pending one.
//!
//! ```
//! use amikit_dlt645::meter::{Credential, Handler, Meter, ReadRequest};
//! use amikit_dlt645::{Address, DataId, DateTime, Di, ErrorWord, Frame, Function, Password};
//! use amikit_dlt645::{RemoteControl, Repr};
//!
//! struct Sim { remaining_money: [u8; 4], relay_open: bool }
//! const OPERATOR: &[Credential] = &[Credential::Password(Password::new(2, 123_456))];
//! impl Handler for Sim {
//!     // remote control with the level-2 password 123456; everything else is refused
//!     fn credentials(&self, function: Function, _: Option<DataId>) -> &[Credential] {
//!         match function {
//!             Function::RemoteControl => OPERATOR,
//!             _ => &[],
//!         }
//!     }
//!     fn read(&mut self, request: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
//!         match request.di {
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
//! let me: Address = "000012345678".parse().unwrap();
//! let mut meter = Meter::new(me);
//! let mut sim = Sim { remaining_money: [0x56, 0x34, 0x12, 0x00], relay_open: false };
//! let now = DateTime::ymd_hms(2026, 3, 2, 9, 0, 0).unwrap();
//! // the master reads the remaining money
//! let (req, n) = Repr::read(me, Di::REMAINING_MONEY).to_array::<32>().unwrap();
//! let frame = Frame::new_checked(&req[..n]).unwrap();
//! let mut out = [0u8; 64];
//! let len = meter.serve(&mut sim, &frame, now, &mut out).unwrap().unwrap();
//! let reply = Repr::parse_bytes(&out[..len], amikit_dlt645::Edition::V2007).unwrap();
//! assert_eq!(reply.control().unwrap().0, 0x91);
//! ```

use core::fmt;

use subtle::ConstantTimeEq;

use crate::address::Address;
use crate::control::{Control, Edition, Function};
use crate::data::Data;
use crate::di::{DataId, Di};
use crate::error::{EncodeError, ParseError, ValueError};
use crate::error_word::ErrorWord;
use crate::frame::Frame;
use crate::remote::{RemoteBody, RemoteControl};
use crate::reply::Reply;
use crate::repr::{Body, Limits, Repr};
use crate::request::{Auth, BaudRate, FreezeTime, OperatorCode, Password, Request};
use crate::value::{DateTime, TimeLayout};

/// Largest value a single read reply carries (200 − 4-byte DI), and the default buffer of a
/// [`Meter`].
pub const MAX_READ_DATA: usize = 196;

/// Largest data field of any frame (both editions: "L≤200").
const MAX_DATA: usize = 200;

/// The load-record selection of a DL/T 645-2007 read of a load-record identifier (`06xxxxxx`):
/// read-request formats 2 (`DI + N`, L = 05H) and 3 (`DI + N + mm hh DD MM YY`, L = 0AH).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct LoadRecords {
    /// The block count `N`, the byte as sent (after −0x33). Whether the text means it as BCD
    /// or binary was not verified; both readings agree for 0–9.
    pub blocks: u8,
    /// The start time (format 3; minute resolution); `None` for format 2.
    pub from: Option<DateTime>,
}

/// What a read request asks for, as [`Handler::read`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReadRequest<'a> {
    /// The identifier.
    pub di: DataId,
    /// The bytes after the identifier, as sent (2007 only; usually empty). Formats 2 and 3 of
    /// load-record reads are also decoded into [`ReadRequest::load`]; anything else (e.g. the
    /// liquid-crystal display command, format 4) is left to the handler.
    pub extra: Data<'a>,
    /// The block count and start time of a load-record read (`06xxxxxx` with 1 or 6 extra
    /// bytes).
    pub load: Option<LoadRecords>,
}

impl<'a> ReadRequest<'a> {
    /// Interprets a read request's fields. For a 2007 load-record identifier (`DI3 = 06`) the
    /// extra bytes must be empty, `N`, or `N mm hh DD MM YY` with a valid time; otherwise the
    /// error says why.
    pub fn new(di: DataId, extra: Data<'a>) -> Result<Self, ValueError> {
        let mut request = ReadRequest {
            di,
            extra,
            load: None,
        };
        let DataId::V2007(d) = di else {
            return Ok(request);
        };
        if d.di3() != 0x06 || extra.is_empty() {
            return Ok(request);
        }
        let (n, time) = extra.split_at(1).ok_or(ValueError::Length {
            expected: 1,
            actual: 0,
        })?;
        let blocks = n.get(0).unwrap_or(0);
        let from = match time.len() {
            0 => None,
            5 => Some(DateTime::parse(TimeLayout::YyMmDdHhMm, time)?),
            other => {
                return Err(ValueError::Length {
                    expected: 6,
                    actual: (other + 1).min(255) as u8,
                });
            }
        };
        request.load = Some(LoadRecords { blocks, from });
        Ok(request)
    }
}

/// A password a [`Handler`] accepts for an operation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// Exactly this level and password (compared in constant time).
    Password(Password),
    /// Any password of this level: the handler authenticates the request itself (the 2013
    /// amendment's ESAM levels `98`/`99` carry encrypted data and a MAC instead of a password).
    Level(u8),
}

impl Credential {
    /// Whether this credential admits `password`.
    pub fn admits(&self, password: &Password) -> bool {
        match self {
            Credential::Password(p) => {
                let code: bool = p.code.ct_eq(&password.code).into();
                code & (p.level == password.level)
            }
            Credential::Level(level) => *level == password.level,
        }
    }
}

impl fmt::Debug for Credential {
    /// Passwords are secrets: `Debug` shows the level only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Password(p) => write!(f, "Password(level {:02X}, ******)", p.level),
            Credential::Level(level) => write!(f, "Level({level:02X})"),
        }
    }
}

/// How the meter refuses a security-authentication request (2007 `03`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityRefusal {
    /// An abnormal reply with this error word.
    Word(ErrorWord),
    /// An abnormal reply with these two bytes (the 2013 amendment's 2-byte security error;
    /// its bit layout is not interpreted here).
    Serr([u8; 2]),
}

impl SecurityRefusal {
    fn first(&self) -> ErrorWord {
        match self {
            SecurityRefusal::Word(w) => *w,
            SecurityRefusal::Serr([b, _]) => ErrorWord(*b),
        }
    }
}

/// Why a request was not carried out.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Refusal {
    /// The handler refused (its error word is in the outcome).
    Handler,
    /// No credential the handler declares admits the request's password.
    Password,
    /// A remote-control command whose valid-until time is before `now`.
    Expired {
        /// The command's valid-until time.
        valid_until: DateTime,
    },
    /// `now` is not a complete, valid date-time, so time limits cannot be checked.
    Clock,
    /// A read follow-up or re-read without a matching pending read (no read, another DI, a
    /// SEQ out of order, or no part left).
    FollowUp,
    /// The request does not parse (bad layout, bad value, write over the limit).
    Malformed(ParseError),
    /// The value is longer than the meter's buffer or than 255 follow-up frames carry.
    TooLong,
    /// The function is not accepted at that address (a broadcast of anything but broadcast
    /// time, freeze, change baud, write address or output control; broadcast time to a
    /// single meter).
    Address,
    /// A function code the edition does not define, or control bits it does not use.
    UnknownFunction,
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Outcome {
    /// Carried out; a normal reply follows (none for a broadcast).
    Done,
    /// Refused; an abnormal reply with `error` follows (none for a broadcast).
    Refused {
        /// The error word of the abnormal reply.
        error: ErrorWord,
        /// Why.
        reason: Refusal,
    },
    /// Neither carried out nor answered.
    Ignored(Refusal),
}

/// One entry of the meter's audit trail: what was asked and what became of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AuditRecord {
    /// The address the request was sent to (this meter's, a wildcard or the broadcast).
    pub address: Address,
    /// The request's control byte.
    pub control: Control,
    /// Its function under the meter's edition.
    pub function: Function,
    /// The identifier, for requests that carry one.
    pub di: Option<DataId>,
    /// The operator code, for 2007 requests that carry one.
    pub operator: Option<OperatorCode>,
    /// What became of it.
    pub outcome: Outcome,
    /// What [`Meter::serve`] returned: the reply's length, why it could not be written, or
    /// `None` when nothing is sent.
    pub reply: Option<Result<usize, EncodeError>>,
}

/// What the meter application does with each request. Defaults refuse: reads answer "no
/// requested data", writes and controls "unauthorised", the rest "other error"; no password is
/// accepted; broadcasts and audit records are ignored.
pub trait Handler {
    /// The credentials that admit a password-carrying request of `function` (write — `di` is
    /// the identifier —, change password — the old password is checked —, clear maximum
    /// demand, clear meter, clear events, remote control). Deny by default: none.
    ///
    /// In DL/T 645-2007 level 0 is the highest authority; which levels may do what is the
    /// meter's policy, declared here.
    fn credentials(&self, function: Function, di: Option<DataId>) -> &[Credential] {
        let _ = (function, di);
        &[]
    }

    /// Called after every request addressed to this meter, refused and ignored ones included.
    fn audit(&mut self, record: &AuditRecord) {
        let _ = record;
    }

    /// Writes the value `request` asks for (plain bytes, wire order) into `out`; returns its
    /// length. A value longer than one frame goes out in follow-up frames.
    fn read(&mut self, request: &ReadRequest<'_>, out: &mut [u8]) -> Result<usize, ErrorWord> {
        let _ = (request, out);
        Err(ErrorWord(ErrorWord::NO_REQUESTED_DATA))
    }

    /// Writes `data` to `di` (the password is already checked; 2007: log the operator).
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

    /// Remote control (trip, allow close, …); password and valid-until time are already
    /// checked for plaintext commands.
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

    /// Change a password (the old one is already checked); returns the password now in force.
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

    /// Clear maximum demand / meter / events (`event` for clear events); a 2007 password is
    /// already checked (the 1997 clear maximum demand carries none).
    fn clear(
        &mut self,
        function: Function,
        auth: Option<Auth>,
        event: Option<Di>,
    ) -> Result<(), ErrorWord> {
        let _ = (function, auth, event);
        Err(ErrorWord(ErrorWord::UNAUTHORISED))
    }

    /// Security authentication (2007 `03`, the 2013 amendment's ESAM exchange): writes the
    /// reply payload into `out` (at most 200 bytes) and returns its length.
    fn security(&mut self, payload: Data<'_>, out: &mut [u8]) -> Result<usize, SecurityRefusal> {
        let _ = (payload, out);
        Err(SecurityRefusal::Word(ErrorWord(ErrorWord::OTHER)))
    }

    /// Any other request (multi-function output control, functions added later).
    fn other(&mut self, request: &Request<'_>) -> Result<(), ErrorWord> {
        let _ = request;
        Err(ErrorWord(ErrorWord::OTHER))
    }
}

/// The read whose parts are being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    di: DataId,
    len: usize,
    /// The last part sent: 0 = the read reply, k = follow-up frame SEQ k.
    part: u8,
}

/// Which data reply a part goes out as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Read,
    FollowUp,
    ReRead,
}

/// What to send, without borrowing the buffers.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Nothing,
    Reply(Reply<'static>),
    Part {
        kind: PartKind,
        di: DataId,
        part: u8,
        start: usize,
        end: usize,
        more: bool,
    },
    Security(usize),
    Error(Function, ErrorWord),
    SecurityError(SecurityRefusal),
}

/// One meter on the line: its identity, limits and the state of a multi-frame read, with a
/// buffer of `N` bytes for the value being read (default [`MAX_READ_DATA`], one frame).
#[derive(Clone)]
pub struct Meter<const N: usize = MAX_READ_DATA> {
    /// Its address.
    pub address: Address,
    /// Its edition.
    pub edition: Edition,
    /// `FE` bytes to send before each reply.
    pub preamble: u8,
    /// The limits requests are parsed with (e.g. secured writes longer than 50 bytes).
    pub limits: Limits,
    pending: Option<Pending>,
    buf: [u8; N],
}

impl Meter {
    /// A 2007 meter without reply preamble, with a one-frame read buffer.
    pub const fn new(address: Address) -> Self {
        Meter::with_buffer(address)
    }
}

impl<const N: usize> Meter<N> {
    /// A 2007 meter without reply preamble whose reads may return up to `N` bytes
    /// (`Meter::<1024>::with_buffer(address)`).
    pub const fn with_buffer(address: Address) -> Self {
        Meter {
            address,
            edition: Edition::V2007,
            preamble: 0,
            limits: Limits::STANDARD,
            pending: None,
            buf: [0; N],
        }
    }

    /// Forgets the pending multi-frame read (e.g. when the line was idle too long).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Whether a frame is a request this meter must look at (its address, a matching wildcard
    /// or broadcast).
    pub(crate) fn is_for_me<T: AsRef<[u8]> + ?Sized>(&self, frame: &Frame<&T>) -> bool {
        !frame.control().is_reply() && frame.address().matches(self.address)
    }

    /// Parses a request addressed to this meter (with its limits); `None` for other meters'
    /// frames and replies.
    pub fn accept<'a, T: AsRef<[u8]> + ?Sized>(
        &self,
        frame: &Frame<&'a T>,
    ) -> Option<Result<Repr<'a>, ParseError>> {
        if !self.is_for_me(frame) {
            return None;
        }
        Some(Repr::parse_with(frame, self.edition, self.limits))
    }

    /// A normal reply.
    pub const fn reply<'a>(&self, reply: Reply<'a>) -> Repr<'a> {
        self.repr(Body::Reply(reply))
    }

    /// An abnormal reply to `function`.
    pub(crate) const fn error_reply(&self, function: Function, error: ErrorWord) -> Repr<'static> {
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

    /// Data bytes of the first part (read reply) and of each follow-up part.
    fn part_sizes(&self) -> (usize, usize) {
        let di = self.edition.di_len();
        let first = MAX_DATA - di;
        match self.edition {
            Edition::V2007 => (first, first - 1),
            Edition::V1997 => (first, first),
        }
    }

    /// Byte range of part `part` of a value of `len` bytes, and whether more parts follow;
    /// `None` when the value has no such part.
    fn part_range(&self, part: u8, len: usize) -> Option<(usize, usize, bool)> {
        let (first, next) = self.part_sizes();
        let (start, size) = match part {
            0 => (0, first),
            k => (first + usize::from(k - 1) * next, next),
        };
        if part > 0 && start >= len {
            return None;
        }
        let end = start.saturating_add(size).min(len);
        Some((start, end, end < len))
    }

    /// The answer that sends part `part` of the pending read.
    fn send_part(&mut self, kind: PartKind, pending: Pending, part: u8) -> Option<Answer> {
        let (start, end, more) = self.part_range(part, pending.len)?;
        self.pending = Some(Pending { part, ..pending });
        Some(Answer::Part {
            kind,
            di: pending.di,
            part,
            start,
            end,
            more,
        })
    }

    /// Handles one frame at the meter's time `now`: if it is a request for this meter,
    /// checks it, calls `handler`, writes the reply into `out` and audits it. Returns `None`
    /// when nothing is to be sent (not for this meter, a reply, a broadcast, or a request a
    /// meter does not answer: unparsable, unknown function) and the length of the reply
    /// otherwise.
    pub fn serve<H: Handler + ?Sized, T: AsRef<[u8]> + ?Sized>(
        &mut self,
        handler: &mut H,
        frame: &Frame<&T>,
        now: DateTime,
        out: &mut [u8],
    ) -> Option<Result<usize, EncodeError>> {
        if !self.is_for_me(frame) {
            return None;
        }
        let control = frame.control();
        let mut record = AuditRecord {
            address: frame.address(),
            control,
            function: control.function(self.edition),
            di: None,
            operator: None,
            outcome: Outcome::Done,
            reply: None,
        };
        let mut scratch = [0u8; MAX_DATA];
        let answer = match Repr::parse_with(frame, self.edition, self.limits) {
            Ok(Repr {
                body: Body::Request(request),
                ..
            }) => {
                record.function = request.function();
                record.di = request.di();
                record.operator = operator_of(&request);
                let broadcast = frame.address().is_broadcast();
                let (answer, outcome) =
                    self.handle(handler, &request, broadcast, now, &mut scratch);
                record.outcome = outcome;
                if broadcast { Answer::Nothing } else { answer }
            }
            Ok(_) => {
                record.outcome = Outcome::Ignored(Refusal::UnknownFunction);
                Answer::Nothing
            }
            Err(e) => {
                record.outcome = Outcome::Ignored(Refusal::Malformed(e));
                Answer::Nothing
            }
        };
        record.reply = self.emit(answer, &scratch, out);
        handler.audit(&record);
        record.reply
    }

    fn emit(
        &self,
        answer: Answer,
        scratch: &[u8; MAX_DATA],
        out: &mut [u8],
    ) -> Option<Result<usize, EncodeError>> {
        let two;
        let repr = match answer {
            Answer::Nothing => return None,
            Answer::Reply(r) => self.reply(r),
            Answer::Part {
                kind,
                di,
                part,
                start,
                end,
                more,
            } => {
                let data = Data::plain(self.buf.get(start..end).unwrap_or(&[]));
                self.reply(match kind {
                    PartKind::Read => Reply::Read { di, data, more },
                    PartKind::ReRead => Reply::ReRead { di, data, more },
                    PartKind::FollowUp => Reply::ReadFollowUp {
                        di,
                        data,
                        seq: (self.edition == Edition::V2007).then_some(part),
                        more,
                    },
                })
            }
            Answer::Security(n) => self.reply(Reply::SecurityAuth {
                payload: Data::plain(scratch.get(..n).unwrap_or(&[])),
            }),
            Answer::Error(function, error) => self.error_reply(function, error),
            Answer::SecurityError(SecurityRefusal::Word(error)) => {
                self.error_reply(Function::SecurityAuth, error)
            }
            Answer::SecurityError(SecurityRefusal::Serr(bytes)) => {
                two = bytes;
                let (first, rest) = two.split_first().unwrap_or((&0, &[]));
                self.repr(Body::Abnormal {
                    function: Function::SecurityAuth,
                    error: ErrorWord(*first),
                    extra: Data::plain(rest),
                })
            }
        };
        Some(repr.emit_with(out, self.limits))
    }

    /// Checks and dispatches one parsed request; returns what to send and the outcome.
    fn handle<H: Handler + ?Sized>(
        &mut self,
        handler: &mut H,
        request: &Request<'_>,
        broadcast: bool,
        now: DateTime,
        scratch: &mut [u8; MAX_DATA],
    ) -> (Answer, Outcome) {
        let f = request.function();
        let refuse = |error: u8, reason: Refusal| {
            (
                Answer::Error(f, ErrorWord(error)),
                Outcome::Refused {
                    error: ErrorWord(error),
                    reason,
                },
            )
        };
        let address_ok = match request {
            Request::BroadcastTime { .. } => broadcast,
            _ => !broadcast || broadcast_allowed(f),
        };
        if !address_ok {
            return (Answer::Nothing, Outcome::Ignored(Refusal::Address));
        }
        if let Some(password) = password_of(request) {
            let admitted = handler
                .credentials(f, request.di())
                .iter()
                .fold(false, |ok, c| ok | c.admits(&password));
            if !admitted {
                return refuse(ErrorWord::UNAUTHORISED, Refusal::Password);
            }
        }
        if let Request::RemoteControl(RemoteControl {
            body: RemoteBody::Plain { valid_until, .. },
            ..
        }) = request
        {
            match (instant(&now), instant(valid_until)) {
                (Some(n), Some(v)) if n <= v => {}
                (Some(_), Some(_)) => {
                    return refuse(
                        ErrorWord::OTHER,
                        Refusal::Expired {
                            valid_until: *valid_until,
                        },
                    );
                }
                _ => return refuse(ErrorWord::OTHER, Refusal::Clock),
            }
        }
        let done = |reply: Reply<'static>| (Answer::Reply(reply), Outcome::Done);
        let handled = |r: Result<Reply<'static>, ErrorWord>| match r {
            Ok(reply) => done(reply),
            Err(e) => (
                Answer::Error(f, e),
                Outcome::Refused {
                    error: e,
                    reason: Refusal::Handler,
                },
            ),
        };
        let no_data = (ErrorWord::NO_REQUESTED_DATA, Refusal::FollowUp);
        match *request {
            Request::BroadcastTime { time } => {
                handler.broadcast_time(time);
                (Answer::Nothing, Outcome::Done)
            }
            Request::Read { di, extra } => {
                self.pending = None;
                let read = match ReadRequest::new(di, extra) {
                    Ok(r) => r,
                    Err(e) => return refuse(ErrorWord::OTHER, Refusal::Malformed(e.into())),
                };
                let n = match handler.read(&read, &mut self.buf) {
                    Ok(n) => n,
                    Err(e) => return handled(Err(e)),
                };
                let (first, next) = self.part_sizes();
                if n > N || n > first + 255 * next {
                    return refuse(ErrorWord::OTHER, Refusal::TooLong);
                }
                let pending = Pending {
                    di,
                    len: n,
                    part: 0,
                };
                match self.send_part(PartKind::Read, pending, 0) {
                    Some(answer) => (answer, Outcome::Done),
                    None => refuse(ErrorWord::OTHER, Refusal::TooLong),
                }
            }
            Request::ReadFollowUp { di, seq } => {
                let Some(p) = self.pending.filter(|p| p.di == di) else {
                    return refuse(no_data.0, no_data.1);
                };
                let part = match seq {
                    // 2007: the next part, or the last one again (its reply was lost).
                    Some(s) if s >= 1 && (s == p.part || Some(s) == p.part.checked_add(1)) => s,
                    Some(_) => return refuse(no_data.0, no_data.1),
                    // 1997: no SEQ, always the next part (a lost reply is asked for by re-read).
                    None => match p.part.checked_add(1) {
                        Some(s) => s,
                        None => return refuse(no_data.0, no_data.1),
                    },
                };
                match self.send_part(PartKind::FollowUp, p, part) {
                    Some(answer) => (answer, Outcome::Done),
                    None => refuse(no_data.0, no_data.1),
                }
            }
            Request::ReRead => match self.pending {
                Some(p) => match self.send_part(PartKind::ReRead, p, p.part) {
                    Some(answer) => (answer, Outcome::Done),
                    None => refuse(no_data.0, no_data.1),
                },
                None => refuse(no_data.0, no_data.1),
            },
            Request::ReadAddress => done(Reply::ReadAddress {
                address: self.address,
            }),
            Request::Write {
                di,
                password,
                operator,
                data,
            } => handled(
                handler
                    .write(di, password, operator, data)
                    .map(|()| Reply::Ack(f)),
            ),
            Request::WriteAddress { address } => {
                handled(handler.write_address(address).map(|()| Reply::Ack(f)))
            }
            Request::Freeze { time } => handled(handler.freeze(time).map(|()| Reply::Ack(f))),
            Request::ChangeBaud { baud } => handled(
                handler
                    .change_baud(baud)
                    .map(|baud| Reply::ChangeBaud { baud }),
            ),
            Request::ChangePassword { di, old, new } => handled(
                handler
                    .change_password(di, old, new)
                    .map(|new| Reply::ChangePassword { new }),
            ),
            Request::ClearMaxDemand { auth } => {
                handled(handler.clear(f, auth, None).map(|()| Reply::Ack(f)))
            }
            Request::ClearMeter { auth } => {
                handled(handler.clear(f, Some(auth), None).map(|()| Reply::Ack(f)))
            }
            Request::ClearEvents { auth, event } => handled(
                handler
                    .clear(f, Some(auth), Some(event))
                    .map(|()| Reply::Ack(f)),
            ),
            Request::RemoteControl(rc) => {
                handled(handler.remote_control(&rc).map(|()| Reply::Ack(f)))
            }
            Request::MultiFunctionOutput { mode } => handled(
                handler
                    .other(request)
                    .map(|()| Reply::MultiFunctionOutput { mode }),
            ),
            Request::SecurityAuth { payload } => match handler.security(payload, scratch) {
                Ok(n) if n <= MAX_DATA => (Answer::Security(n), Outcome::Done),
                Ok(_) => refuse(ErrorWord::OTHER, Refusal::TooLong),
                Err(e) => (
                    Answer::SecurityError(e),
                    Outcome::Refused {
                        error: e.first(),
                        reason: Refusal::Handler,
                    },
                ),
            },
        }
    }
}

impl<const N: usize> fmt::Debug for Meter<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Meter")
            .field("address", &self.address)
            .field("edition", &self.edition)
            .field("preamble", &self.preamble)
            .field("limits", &self.limits)
            .field("buffer", &N)
            .field("pending", &self.pending)
            .finish()
    }
}

/// Functions a meter acts on when they are sent to the broadcast address.
fn broadcast_allowed(f: Function) -> bool {
    matches!(
        f,
        Function::BroadcastTime
            | Function::Freeze
            | Function::ChangeBaud
            | Function::WriteAddress
            | Function::MultiFunctionOutput
    )
}

/// The password a request carries, if any (the old one for change password).
fn password_of(request: &Request<'_>) -> Option<Password> {
    match request {
        Request::Write { password, .. } => Some(*password),
        Request::ChangePassword { old, .. } => Some(*old),
        Request::ClearMaxDemand { auth } => auth.map(|a| a.password),
        Request::ClearMeter { auth } | Request::ClearEvents { auth, .. } => Some(auth.password),
        Request::RemoteControl(rc) => Some(rc.auth.password),
        _ => None,
    }
}

/// The operator code a request carries, if any.
fn operator_of(request: &Request<'_>) -> Option<OperatorCode> {
    match request {
        Request::Write { operator, .. } => *operator,
        Request::ClearMaxDemand { auth } => auth.map(|a| a.operator),
        Request::ClearMeter { auth } | Request::ClearEvents { auth, .. } => Some(auth.operator),
        Request::RemoteControl(rc) => Some(rc.auth.operator),
        _ => None,
    }
}

/// A complete, valid date-time as one ordered number `YYYYMMDDhhmmss`.
fn instant(t: &DateTime) -> Option<u64> {
    t.validate().ok()?;
    let fields = [
        u64::from(t.month?),
        u64::from(t.day?),
        u64::from(t.hour?),
        u64::from(t.minute?),
        u64::from(t.second?),
    ];
    Some(
        fields
            .into_iter()
            .fold(u64::from(t.year?), |acc, v| acc * 100 + v),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_ranges_2007_and_1997() {
        let m = Meter::new(Address::from_number(1).unwrap());
        assert_eq!(m.part_range(0, 10), Some((0, 10, false)));
        assert_eq!(m.part_range(0, 500), Some((0, 196, true)));
        assert_eq!(m.part_range(1, 500), Some((196, 391, true)));
        assert_eq!(m.part_range(2, 500), Some((391, 500, false)));
        assert_eq!(m.part_range(3, 500), None);
        assert_eq!(m.part_range(1, 196), None);
        let mut m97 = m;
        m97.edition = Edition::V1997;
        assert_eq!(m97.part_range(1, 400), Some((198, 396, true)));
        assert_eq!(m97.part_range(2, 400), Some((396, 400, false)));
    }

    #[test]
    fn instants_order_and_fail_closed() {
        let a = DateTime::ymd_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let b = DateTime::ymd_hms(2026, 3, 2, 9, 0, 1).unwrap();
        assert!(instant(&a) < instant(&b));
        assert_eq!(instant(&DateTime::default()), None);
        let mut bad = a;
        bad.month = Some(13);
        assert_eq!(instant(&bad), None);
    }

    #[test]
    fn credentials_admit_exactly() {
        let c = Credential::Password(Password::new(2, 123_456));
        assert!(c.admits(&Password::new(2, 123_456)));
        assert!(!c.admits(&Password::new(4, 123_456)));
        assert!(!c.admits(&Password::new(2, 123_457)));
        assert!(Credential::Level(0x98).admits(&Password::new(0x98, 1)));
        assert!(!Credential::Level(0x98).admits(&Password::new(0x99, 1)));
    }
}
