//! The crate's error type.

use std::time::Duration;

use amikit_dlt645::ErrorWord;

/// Why an operation failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport failed (and could not be re-opened).
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// No matching reply within the response timeout, after every retry.
    #[error("no reply within {timeout:?} in {attempts} attempts")]
    Timeout {
        /// The response timeout of each attempt.
        timeout: Duration,
        /// Attempts made.
        attempts: u8,
    },
    /// The meter answered with an abnormal reply.
    #[error("the meter refused: {0}")]
    Refused(ErrorWord),
    /// A multi-frame read went wrong (sequence, overflow …).
    #[error("multi-frame read: {0}")]
    MultiRead(amikit_dlt645::multiframe::MultiReadError),
    /// The request could not be encoded.
    #[error("encoding the DL/T 645 request: {0}")]
    Encode(amikit_dlt645::EncodeError),
    /// The reply did not parse.
    #[error("the reply did not parse: {0}")]
    Parse(amikit_dlt645::ParseError),
    /// The value could not be decoded.
    #[error("the value did not decode: {0}")]
    Value(amikit_dlt645::ValueError),
    /// The reply's value is the "no data" filler (all `FF`) or not a number.
    #[error("the reply carries no value of that kind")]
    NoValue,
    /// The task behind the handle has stopped.
    #[error("the I/O task has stopped")]
    Closed,
    /// No connection to that terminal.
    #[error("terminal {0} is not connected")]
    NotConnected(amikit_gdw376::Address),
    /// The terminal denied the request as a whole (AFN 00 F2: a refused command, no data, or
    /// a security refusal).
    #[error("the terminal denied the request")]
    Denied,
    /// The Q/GDW 376.1 session refused to send the request.
    #[error("the session refused the request: {0}")]
    Request(amikit_gdw376::session::master::RequestError),
    /// The Q/GDW 376.1 request could not be encoded.
    #[error("encoding the Q/GDW 376.1 request: {0}")]
    EncodeGdw376(amikit_gdw376::EncodeError),
}

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;
