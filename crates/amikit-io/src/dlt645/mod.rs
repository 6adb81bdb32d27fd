//! DL/T 645 over tokio: a master [`Client`] (serial port or TCP, one request at a time per bus,
//! queued from any number of handles) and a meter-side [`MeterServer`] (the simulator to test
//! head-ends against).

mod client;
mod reading;
#[cfg(feature = "serial")]
mod serial;
mod server;

pub use client::{BusStats, Client, ClientConfig};
pub use reading::Reading;
#[cfg(feature = "serial")]
pub use serial::{SerialSettings, open_serial};
pub use server::{Faults, MeterServer};
