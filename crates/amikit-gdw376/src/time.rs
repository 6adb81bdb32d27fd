//! Time as an input: a calendar [`DateTime`] for Tp checks and a monotonic [`Instant`] for the
//! session timers, both `amikit-core`'s (re-exported here). Nothing here reads a clock.
//!
//! Formats 01, 15 and 16 (Q/GDW 1376.1-2013 Appendix A, tables A.1, A.16, A.17) convert to and
//! from [`DateTime`] with `TryFrom`/`From` (see [`crate::format::Format01`]).

pub use amikit_core::{DateTime, Instant};
