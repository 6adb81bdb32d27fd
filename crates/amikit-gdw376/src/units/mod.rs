//! Typed data units.
