//! Deframer.
