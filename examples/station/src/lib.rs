//! The master station, the terminal and the demo that amikit's examples run.
//!
//! Everything here is built from the public APIs of `amikit-dlt645`, `amikit-gdw376`,
//! `amikit-sts`, `amikit-tariff` and `amikit-prepay`; this crate only adds I/O (TCP, SQLite,
//! HTTP, a simulated clock) and the glue between them.

pub mod clock;
pub mod db;
pub mod demo;
pub mod keys;
pub mod master;
pub mod scale;
pub mod site;
pub mod terminal;
