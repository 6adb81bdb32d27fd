//! A sans-IO driver for multi-frame reads.
//!
//! DL/T 645-2007: a read reply with the follow-up bit (`B1`) means more data exists; the master
//! sends `12` with `DI + SEQ` (SEQ = 1, 2, …) and gets `92` (last) or `B2` (more) replies with
//! `DI + data + SEQ`. DL/T 645-1997: `02` with the DI, replies `82`/`A2`. The meter never
//! pushes follow-ups by itself (passive waiting never completes).
//!
//! [`MultiRead`] says which request to send next and assembles the data in a fixed buffer:
//!
//! ```
//! use amikit_dlt645::{multiframe::{MultiRead, Step}, Address, Body, Di, Edition, Repr, Reply, DataId, Data};
//! let addr: Address = "000012345678".parse().unwrap();
//! let mut read = MultiRead::<64>::new(Edition::V2007, addr, Di(0x0400_0403).into());
//! let mut buf = [0u8; 64];
//! let n = read.first_request().emit(&mut buf).unwrap(); // send buf[..n]
//! # let _ = n;
//! // the meter answers with part 1 and the follow-up bit
//! let part1 = Repr::new(amikit_dlt645::Edition::V2007, addr, Body::Reply(Reply::Read {
//!     di: DataId::V2007(Di(0x0400_0403)), data: Data::plain(b"ABCD"), more: true }));
//! let next = match read.on_reply(&part1).unwrap() { Step::Send(r) => r, Step::Done(_) => unreachable!() };
//! assert!(matches!(next.body, Body::Request(amikit_dlt645::Request::ReadFollowUp { seq: Some(1), .. })));
//! let part2 = Repr::new(amikit_dlt645::Edition::V2007, addr, Body::Reply(Reply::ReadFollowUp {
//!     di: DataId::V2007(Di(0x0400_0403)), data: Data::plain(b"EF"), seq: Some(1), more: false }));
//! match read.on_reply(&part2).unwrap() { Step::Done(all) => assert_eq!(all, b"ABCDEF"), _ => unreachable!() }
//! ```

use crate::address::Address;
use crate::control::Edition;
use crate::data::Data;
use crate::di::DataId;
use crate::error_word::ErrorWord;
use crate::reply::Reply;
use crate::repr::{Body, Repr};
use crate::request::Request;

/// Why a multi-frame read failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MultiReadError {
    /// The meter answered with an abnormal reply.
    #[error("meter refused: error word {0}")]
    Refused(ErrorWord),
    /// A reply from another address, of another function or for another DI.
    #[error("unexpected reply")]
    Unexpected,
    /// A follow-up reply with the wrong sequence number.
    #[error("sequence mismatch: expected {expected}, got {got}")]
    Sequence {
        /// The SEQ requested.
        expected: u8,
        /// The SEQ received.
        got: u8,
    },
    /// The data does not fit the buffer.
    #[error("assembled data exceeds {0} bytes")]
    Overflow(usize),
    /// More than 255 follow-up frames.
    #[error("too many follow-up frames")]
    TooManyFrames,
    /// `on_reply` after completion or failure.
    #[error("the read is already finished")]
    Finished,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    /// Send this request and pass the reply to [`MultiRead::on_reply`].
    Send(Repr<'static>),
    /// All data received (wire order, −0x33 removed).
    Done(&'a [u8]),
}

/// Drives one multi-frame read, assembling up to `N` data bytes.
#[derive(Debug, Clone)]
pub struct MultiRead<const N: usize> {
    edition: Edition,
    address: Address,
    di: DataId,
    seq: u8,
    buf: [u8; N],
    len: usize,
    finished: bool,
}

impl<const N: usize> MultiRead<N> {
    /// A read of `di` (its width must match `edition`).
    pub const fn new(edition: Edition, address: Address, di: DataId) -> Self {
        MultiRead {
            edition,
            address,
            di,
            seq: 0,
            buf: [0; N],
            len: 0,
            finished: false,
        }
    }

    /// The first request (`11` / `01`).
    pub const fn first_request(&self) -> Repr<'static> {
        Repr::request(
            self.edition,
            self.address,
            Request::Read {
                di: self.di,
                extra: Data::EMPTY,
            },
        )
    }

    /// Frames received so far.
    pub const fn frames(&self) -> u8 {
        self.seq
    }

    fn append(&mut self, data: Data<'_>) -> Result<(), MultiReadError> {
        let dst = self
            .buf
            .get_mut(self.len..self.len + data.len())
            .ok_or(MultiReadError::Overflow(N))?;
        for (d, s) in dst.iter_mut().zip(data.iter()) {
            *d = s;
        }
        self.len += data.len();
        Ok(())
    }

    /// Takes the meter's reply; says what to send next or returns the assembled data.
    pub fn on_reply(&mut self, reply: &Repr<'_>) -> Result<Step<'_>, MultiReadError> {
        if self.finished {
            return Err(MultiReadError::Finished);
        }
        let r = self.step(reply);
        if !matches!(r, Ok(false)) {
            self.finished = true;
        }
        match r {
            Ok(true) => Ok(Step::Done(self.buf.get(..self.len).unwrap_or(&[]))),
            Ok(false) => Ok(Step::Send(Repr::request(
                self.edition,
                self.address,
                Request::ReadFollowUp {
                    di: self.di,
                    seq: (self.edition == Edition::V2007).then_some(self.seq),
                },
            ))),
            Err(e) => Err(e),
        }
    }

    /// Ok(true) = done, Ok(false) = send the next follow-up.
    fn step(&mut self, reply: &Repr<'_>) -> Result<bool, MultiReadError> {
        if !reply.address.matches(self.address) && !self.address.matches(reply.address) {
            return Err(MultiReadError::Unexpected);
        }
        let expect_follow = self.seq > 0;
        let (di, data, more) = match reply.body {
            Body::Abnormal { error, .. } => return Err(MultiReadError::Refused(error)),
            Body::Reply(Reply::Read { di, data, more }) if !expect_follow => (di, data, more),
            Body::Reply(Reply::ReadFollowUp {
                di,
                data,
                seq,
                more,
            }) if expect_follow => {
                if let Some(got) = seq
                    && got != self.seq
                {
                    return Err(MultiReadError::Sequence {
                        expected: self.seq,
                        got,
                    });
                }
                (di, data, more)
            }
            _ => return Err(MultiReadError::Unexpected),
        };
        if di != self.di {
            return Err(MultiReadError::Unexpected);
        }
        self.append(data)?;
        if !more {
            return Ok(true);
        }
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or(MultiReadError::TooManyFrames)?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Function;
    use crate::di::{Di, Di97};

    fn reply(more: bool, seq: Option<u8>, data: &'static [u8]) -> Repr<'static> {
        let di = DataId::V2007(Di(0x0400_0403));
        let body = match seq {
            None => Reply::Read {
                di,
                data: Data::plain(data),
                more,
            },
            Some(s) => Reply::ReadFollowUp {
                di,
                data: Data::plain(data),
                seq: Some(s),
                more,
            },
        };
        Repr::new(
            Edition::V2007,
            Address::from_number(1).unwrap(),
            Body::Reply(body),
        )
    }

    #[test]
    fn three_frames() {
        let mut m = MultiRead::<16>::new(
            Edition::V2007,
            Address::from_number(1).unwrap(),
            Di(0x0400_0403).into(),
        );
        assert!(matches!(
            m.on_reply(&reply(true, None, b"ab")),
            Ok(Step::Send(_))
        ));
        match m.on_reply(&reply(true, Some(1), b"cd")).unwrap() {
            Step::Send(r) => {
                assert_eq!(r.control().unwrap().0, 0x12);
                assert!(matches!(
                    r.body,
                    Body::Request(Request::ReadFollowUp { seq: Some(2), .. })
                ));
            }
            Step::Done(_) => panic!(),
        }
        assert_eq!(
            m.on_reply(&reply(false, Some(2), b"ef")).unwrap(),
            Step::Done(b"abcdef")
        );
        assert_eq!(
            m.on_reply(&reply(false, Some(2), b"ef")),
            Err(MultiReadError::Finished)
        );
    }

    #[test]
    fn errors() {
        let a = Address::from_number(1).unwrap();
        let mut m = MultiRead::<16>::new(Edition::V2007, a, Di(0x0400_0403).into());
        m.on_reply(&reply(true, None, b"ab")).unwrap();
        assert_eq!(
            m.on_reply(&reply(false, Some(3), b"cd")),
            Err(MultiReadError::Sequence {
                expected: 1,
                got: 3
            })
        );
        let mut m = MultiRead::<3>::new(Edition::V2007, a, Di(0x0400_0403).into());
        assert_eq!(
            m.on_reply(&reply(false, None, b"abcd")),
            Err(MultiReadError::Overflow(3))
        );
        let mut m = MultiRead::<8>::new(Edition::V2007, a, Di(0x0400_0403).into());
        let refused = Repr::new(
            Edition::V2007,
            a,
            Body::Abnormal {
                function: Function::Read,
                error: ErrorWord(2),
                extra: Data::EMPTY,
            },
        );
        assert_eq!(
            m.on_reply(&refused),
            Err(MultiReadError::Refused(ErrorWord(2)))
        );
    }

    #[test]
    fn edition_1997_has_no_seq() {
        let a = Address::from_number(1).unwrap();
        let mut m = MultiRead::<8>::new(Edition::V1997, a, Di97(0xC032).into());
        let di = DataId::V1997(Di97(0xC032));
        let r1 = Repr::new(
            Edition::V1997,
            a,
            Body::Reply(Reply::Read {
                di,
                data: Data::plain(b"12"),
                more: true,
            }),
        );
        let Step::Send(next) = m.on_reply(&r1).unwrap() else {
            panic!()
        };
        assert_eq!(next.control().unwrap().0, 0x02);
        assert_eq!(next.data_len(), 2);
        let r2 = Repr::new(
            Edition::V1997,
            a,
            Body::Reply(Reply::ReadFollowUp {
                di,
                data: Data::plain(b"3"),
                seq: None,
                more: false,
            }),
        );
        assert_eq!(m.on_reply(&r2).unwrap(), Step::Done(b"123"));
    }
}
