//! Q/GDW 376.1 over TCP: a master-station [`FrontEnd`] (accept loop, one task per terminal
//! connection around [`amikit_gdw376::session::master::MasterSession`], a registry of logged-in
//! terminals, requests awaited by the caller, an event stream) and a [`TerminalDriver`] (a
//! terminal around [`amikit_gdw376::session::terminal::Terminal`] that dials the master and
//! re-dials with back-off).

mod front_end;
mod link;
mod terminal;

pub use front_end::{
    AnyTerminal, DisconnectReason, FrontEnd, FrontEndConfig, FrontEndEvent, FrontEndStats,
    Response, SessionState, TerminalRegistry,
};
pub use terminal::{DriverConfig, DriverEvent, TerminalDriver};
