//! The session layer's error types are real errors: `Display` says what went wrong and
//! `core::error::Error` lets an application box or chain them.

use amikit_gdw376::error::SecurityError;
use amikit_gdw376::session::master::RequestError;
use amikit_gdw376::session::terminal::{Refusal, Rejection};

fn message<E: core::error::Error>(e: E) -> String {
    e.to_string()
}

#[test]
fn request_errors_display_what_went_wrong_and_their_cause() {
    assert_eq!(message(RequestError::Busy), "every request slot is in use");
    assert_eq!(
        message(RequestError::Identity(SecurityError::BadPw)),
        "the identity challenge could not be answered: PW does not verify"
    );
}

#[test]
fn terminal_refusals_and_rejections_display_the_err_code_and_the_cause() {
    assert_eq!(message(Refusal::Error(4)), "refused with ERR code 4");
    assert_eq!(
        message(Rejection::Security(SecurityError::Replay(7))),
        "the frame failed its security check: replayed PFC 7"
    );
    assert_eq!(
        message(Rejection::NotForUs),
        "the frame is for another terminal"
    );
}
