//! Normal replies (meter → master) of every function of both editions.
//!
//! | function | reply data (2007 / 1997) |
//! |---|---|
//! | read | `DI data` (control `91`/`81`; `B1`/`A1` when follow-up frames exist) |
//! | read follow-up | 2007 `DI data SEQ` (`92`/`B2`); 1997 `DI data` (`82`/`A2`) |
//! | re-read (1997) | `DI data` (`83`/`A3`) |
//! | read address | the address (6 bytes) |
//! | change baud | the new feature word |
//! | change password | the new password `PAN P0N P1N P2N` |
//! | multi-function output | the mode byte |
//! | security authentication | opaque |
//! | write, write address, freeze, clears, remote control | empty ([`Reply::Ack`]) |
//!
//! Abnormal replies (D6 = 1) carry the error word: [`crate::Body::Abnormal`].

use crate::Function;
use crate::data::Data;
use crate::di::DataId;
use crate::request::{BaudRate, Password};

/// A normal reply from the meter.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Reply<'a> {
    /// Read data (also the 1997 re-read reply when `function` is re-read).
    Read {
        /// The identifier.
        di: DataId,
        /// The value bytes (wire order).
        data: Data<'a>,
        /// Follow-up frames exist (D5).
        more: bool,
    },
    /// A follow-up frame of a multi-frame read.
    ReadFollowUp {
        /// The identifier.
        di: DataId,
        /// The value bytes of this frame.
        data: Data<'a>,
        /// 2007: frame sequence number; 1997: none.
        seq: Option<u8>,
        /// More follow-up frames exist (D5).
        more: bool,
    },
    /// 1997 re-read reply.
    ReRead {
        /// The identifier.
        di: DataId,
        /// The value bytes.
        data: Data<'a>,
        /// Follow-up frames exist (D5).
        more: bool,
    },
    /// The meter's address.
    ReadAddress {
        /// The address.
        address: crate::Address,
    },
    /// The rate the meter switched to.
    ChangeBaud {
        /// The new rate.
        baud: BaudRate,
    },
    /// The new password.
    ChangePassword {
        /// Level and password now in force.
        new: Password,
    },
    /// Multi-function output mode confirmed.
    MultiFunctionOutput {
        /// The mode byte.
        mode: u8,
    },
    /// Security authentication reply (opaque).
    SecurityAuth {
        /// The payload.
        payload: Data<'a>,
    },
    /// An empty confirmation of `function` (write, write address, freeze, clears, remote
    /// control).
    Ack(Function),
}

impl<'a> Reply<'a> {
    /// The function this reply answers.
    pub const fn function(&self) -> Function {
        match self {
            Reply::Read { .. } => Function::Read,
            Reply::ReadFollowUp { .. } => Function::ReadFollowUp,
            Reply::ReRead { .. } => Function::ReRead,
            Reply::ReadAddress { .. } => Function::ReadAddress,
            Reply::ChangeBaud { .. } => Function::ChangeBaud,
            Reply::ChangePassword { .. } => Function::ChangePassword,
            Reply::MultiFunctionOutput { .. } => Function::MultiFunctionOutput,
            Reply::SecurityAuth { .. } => Function::SecurityAuth,
            Reply::Ack(f) => *f,
        }
    }

    /// Whether the follow-up bit is set.
    pub const fn more(&self) -> bool {
        match self {
            Reply::Read { more, .. }
            | Reply::ReadFollowUp { more, .. }
            | Reply::ReRead { more, .. } => *more,
            _ => false,
        }
    }

    /// The identifier and value bytes of a data-carrying reply.
    pub const fn di_data(&self) -> Option<(DataId, Data<'a>)> {
        match self {
            Reply::Read { di, data, .. }
            | Reply::ReadFollowUp { di, data, .. }
            | Reply::ReRead { di, data, .. } => Some((*di, *data)),
            _ => None,
        }
    }
}
