//! The meter side: serves [`Meter`]s and their [`Handler`]s on a byte stream (a serial port, a
//! TCP connection): a simulator of an RS-485 bus of meters to test head-ends against, with
//! optional faults (echo, noise, delay, silence).

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amikit_dlt645::meter::{Handler, MAX_READ_DATA, Meter};
use amikit_dlt645::value::DateTime;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::codec::Decoder;
use tracing::{Instrument, debug, debug_span, trace, warn};

use crate::codec::{DLT645_FRAME_MAX, Dlt645Codec, Dlt645Item};

/// Faults the simulated line injects, to test a master against a real bus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Send each request back before answering (what a master hears on a half-duplex line).
    pub echo: bool,
    /// Bytes sent before each reply (line noise).
    pub noise: Vec<u8>,
    /// Delay before each reply.
    pub delay: Duration,
    /// Answer nothing (a meter that is off, or on another bus).
    pub silent: bool,
}

type Clock = Arc<dyn Fn() -> Option<DateTime> + Send + Sync>;

/// Meters on one simulated bus, served on any number of streams (each connection or port sees
/// the same meters). Each request frame goes to the meter it addresses
/// ([`Meter::serve`] checks addresses, passwords and valid-until times); replies go back on
/// the stream it came from.
pub struct MeterServer<H, const N: usize = MAX_READ_DATA> {
    meters: Arc<Mutex<Vec<(Meter<N>, H)>>>,
    faults: Arc<Mutex<Arc<Faults>>>,
    clock: Clock,
}

impl<H, const N: usize> Clone for MeterServer<H, N> {
    fn clone(&self) -> Self {
        MeterServer {
            meters: Arc::clone(&self.meters),
            faults: Arc::clone(&self.faults),
            clock: Arc::clone(&self.clock),
        }
    }
}

impl<H, const N: usize> std::fmt::Debug for MeterServer<H, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterServer").finish_non_exhaustive()
    }
}

impl<H: Handler + Send + 'static, const N: usize> MeterServer<H, N> {
    /// A bus of `meters`, whose clock is the local time in China (UTC+8; valid-until times of
    /// remote controls are checked against it).
    pub fn new(meters: Vec<(Meter<N>, H)>) -> Self {
        MeterServer {
            meters: Arc::new(Mutex::new(meters)),
            faults: Arc::new(Mutex::new(Arc::new(Faults::default()))),
            clock: Arc::new(|| {
                crate::clock::local_now(crate::clock::CHINA_STANDARD_TIME)
                    .and_then(|t| DateTime::try_from(t).ok())
            }),
        }
    }

    /// The meters' clock (`None`: no valid time; password-checked commands are then refused
    /// as the meter decides).
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> Option<DateTime> + Send + Sync + 'static,
    ) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces the faults injected from now on (on every stream).
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.faults.lock() {
            *f = Arc::new(faults);
        }
    }

    /// Runs `f` on the meters (e.g. to look at or change a handler's state).
    pub fn with_meters<R>(&self, f: impl FnOnce(&mut [(Meter<N>, H)]) -> R) -> Option<R> {
        self.meters.lock().ok().map(|mut m| f(&mut m))
    }

    /// Accepts connections on `listener` and serves each on its own task, until accepting
    /// fails.
    ///
    /// # Errors
    ///
    /// The listener's error.
    pub async fn listen(self, listener: TcpListener) -> io::Result<()> {
        loop {
            let (stream, peer) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            let server = self.clone();
            let span = debug_span!("meter_server_connection", %peer);
            tokio::spawn(
                async move {
                    if let Err(e) = server.serve(stream).await {
                        debug!(error = %e, "connection closed");
                    }
                }
                .instrument(span),
            );
        }
    }

    /// Serves requests arriving on `io` until it ends.
    ///
    /// # Errors
    ///
    /// The transport's error.
    pub async fn serve<T: AsyncRead + AsyncWrite + Unpin>(&self, mut io: T) -> io::Result<()> {
        let mut codec = Dlt645Codec::meter();
        let mut rx = BytesMut::with_capacity(1024);
        let mut tx = BytesMut::with_capacity(1024);
        let mut out = [0u8; DLT645_FRAME_MAX];
        loop {
            if io.read_buf(&mut rx).await? == 0 {
                return Ok(());
            }
            while let Some(item) = codec.decode(&mut rx)? {
                let frame = match item {
                    Dlt645Item::Frame(frame) => frame,
                    Dlt645Item::Dropped { len, reason } => {
                        trace!(len, reason = reason.name(), "bytes dropped");
                        continue;
                    }
                };
                let faults = self
                    .faults
                    .lock()
                    .map(|f| Arc::clone(&f))
                    .unwrap_or_default();
                let reply = match self.answer(frame.as_bytes(), &mut out) {
                    Some(n) if !faults.silent => out.get(..n),
                    _ => None,
                };
                tx.clear();
                if faults.echo {
                    tx.extend_from_slice(frame.as_bytes());
                }
                if let Some(reply) = reply {
                    tx.extend_from_slice(&faults.noise);
                    tx.extend_from_slice(reply);
                }
                if tx.is_empty() {
                    continue;
                }
                if !faults.delay.is_zero() {
                    tokio::time::sleep(faults.delay).await;
                }
                io.write_all(&tx).await?;
            }
        }
    }

    /// The reply of the addressed meter, written into `out`.
    fn answer(&self, frame: &[u8], out: &mut [u8]) -> Option<usize> {
        let now = (self.clock)()?;
        let frame = amikit_dlt645::Frame::new_unchecked(frame);
        let mut meters = self.meters.lock().ok()?;
        for (meter, handler) in meters.iter_mut() {
            match meter.serve(handler, &frame, now, out) {
                Some(Ok(n)) => return Some(n),
                Some(Err(e)) => {
                    warn!(error = %e, "the reply could not be encoded");
                    return None;
                }
                None => {}
            }
        }
        None
    }
}
