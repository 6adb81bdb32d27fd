//! Chaos mode: a field that fights back, and the soak that proves the station holds in it.
//!
//! * [`faults`]: the fault kinds, which are on, the seeded random source, the schedule of timed
//!   faults drawn from the seed, and the counters (injected / met a relay command).
//! * [`field`]: the misbehaving meters (hooks into the terminal simulator: registers that go
//!   backwards, jump or read zero, meters replaced, relays that refuse or act late, each read
//!   and relay command logged with its true value) and the misbehaving link (frames dropped,
//!   duplicated, reordered, acknowledgements lost, the link down for minutes).
//! * [`invariants`]: the checks made after every step, each against evidence the station
//!   cannot bend (the answers the harness got, the database, the simulators' own logs).
//! * [`soak`]: the driver — the master station as a child process (killed with SIGKILL and
//!   restarted on the same database, restarted on a full disk), a terminal through the chaos
//!   link, an impostor, the customers' payments — and its command line
//!   (`cargo run --example soak -- --days D --seed S`).

pub mod faults;
pub mod field;
pub mod invariants;
pub mod soak;
