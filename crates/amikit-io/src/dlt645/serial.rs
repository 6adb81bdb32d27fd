//! Serial ports (RS-485 adapters) through `tokio-serial`.

use std::time::Duration;

use tokio_serial::{DataBits, FlowControl, Parity, SerialPortBuilderExt, SerialStream, StopBits};

/// Line settings of a DL/T 645 bus.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialSettings {
    /// Bits per second.
    pub baud: u32,
    /// Parity.
    pub parity: Parity,
    /// Data bits.
    pub data_bits: DataBits,
    /// Stop bits.
    pub stop_bits: StopBits,
}

impl SerialSettings {
    /// DL/T 645-2007 §5.1's default: 2400 bd, 8 data bits, even parity, 1 stop bit (8E1).
    pub const fn dlt645() -> Self {
        SerialSettings {
            baud: 2400,
            parity: Parity::Even,
            data_bits: DataBits::Eight,
            stop_bits: StopBits::One,
        }
    }

    /// The same line at another rate (1200, 4800, 9600 bd meters).
    pub const fn with_baud(mut self, baud: u32) -> Self {
        self.baud = baud;
        self
    }
}

impl Default for SerialSettings {
    fn default() -> Self {
        Self::dlt645()
    }
}

/// Opens the serial port at `path` (`/dev/ttyUSB0`, `COM3`) with `settings`, ready for
/// [`crate::dlt645::Client::new`] or [`crate::dlt645::MeterServer::serve`].
///
/// # Errors
///
/// The port cannot be opened or configured.
pub fn open_serial(path: &str, settings: SerialSettings) -> tokio_serial::Result<SerialStream> {
    tokio_serial::new(path, settings.baud)
        .parity(settings.parity)
        .data_bits(settings.data_bits)
        .stop_bits(settings.stop_bits)
        .flow_control(FlowControl::None)
        .timeout(Duration::from_millis(100))
        .open_native_async()
}
