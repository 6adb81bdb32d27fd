//! The DL/T 645 master: a cloneable [`Client`] handle over a queue to one bus task.
//!
//! An RS-485 bus (or the TCP link to a transparent serial server or DTU in front of one)
//! carries one exchange at a time: the bus task takes requests from the queue in order, sends
//! each (with the `FE` wake-up preamble, DL/T 645-2007 §4.1), waits for the matching reply —
//! same address, same function, meter → master (the echo of the request on a half-duplex line
//! is dropped by the codec) — retries on silence, and keeps an inter-frame gap between the end
//! of one exchange and the next request. Multi-frame reads (DL/T 645-2007 §6.1: `B1` replies,
//! `12` follow-up requests with SEQ) are driven by [`MultiRead`] and hold the bus until the
//! last frame.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use amikit_dlt645::deframer::DropReason;
use amikit_dlt645::multiframe::{MultiRead, MultiReadError, Step};
use amikit_dlt645::value::DateTime;
use amikit_dlt645::{
    Address, Auth, Body, Data, DataId, Di, Edition, Frame, Function, RemoteCommand, Repr,
};
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::codec::Decoder;
use tracing::{Instrument, debug, debug_span, trace, warn};

use super::Reading;
use crate::codec::{DLT645_FRAME_MAX, Dlt645Codec, Dlt645Item, FrameBuf};
use crate::error::{Error, Result};

/// The largest value a read assembles from follow-up frames (load profiles, event records).
const MULTI_READ_MAX: usize = 4096;

/// Client settings.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// The edition of the meters on this bus (1997 meters take 2-byte identifiers).
    pub edition: Edition,
    /// How long to wait for a reply (each attempt).
    pub response_timeout: Duration,
    /// Retransmissions after a silent attempt.
    pub retries: u8,
    /// `FE` wake-up bytes sent before each request.
    pub preamble: u8,
    /// Silence kept between the end of one exchange and the next request.
    pub gap: Duration,
    /// Requests waiting for the bus before callers wait to enqueue.
    pub queue: usize,
}

impl ClientConfig {
    /// A serial RS-485 bus: 2007 edition, 1 s per attempt (a meter answers within 500 ms,
    /// DL/T 645-2007 §4.3, plus the transmission time at 2400 bd), 2 retries, 4 `FE`, a 50 ms
    /// gap, a queue of 64.
    pub const fn serial() -> Self {
        ClientConfig {
            edition: Edition::V2007,
            response_timeout: Duration::from_secs(1),
            retries: 2,
            preamble: 4,
            gap: Duration::from_millis(50),
            queue: 64,
        }
    }

    /// A TCP link to a transparent serial server or DTU: as [`ClientConfig::serial`] with 3 s
    /// per attempt (the network's delay on top of the bus) and no gap of our own (the server
    /// paces its serial side).
    pub const fn tcp() -> Self {
        ClientConfig {
            response_timeout: Duration::from_secs(3),
            gap: Duration::ZERO,
            ..Self::serial()
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self::serial()
    }
}

/// Counters of one bus.
#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    replies: AtomicU64,
    retries: AtomicU64,
    timeouts: AtomicU64,
    unmatched: AtomicU64,
    echo_bytes: AtomicU64,
    noise_bytes: AtomicU64,
    reconnects: AtomicU64,
}

/// What a bus has seen (a snapshot of its counters).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Request frames sent (retries included).
    pub requests: u64,
    /// Matching replies received.
    pub replies: u64,
    /// Retransmissions after silence.
    pub retries: u64,
    /// Exchanges that failed after every retry.
    pub timeouts: u64,
    /// Valid reply frames that matched no request (another address or function, late).
    pub unmatched: u64,
    /// Bytes of our own requests heard back (half-duplex echo), dropped.
    pub echo_bytes: u64,
    /// Bytes of noise dropped (garbage, bad checksums, truncated frames).
    pub noise_bytes: u64,
    /// Times the transport was re-opened after a failure.
    pub reconnects: u64,
}

type Connect<T> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = io::Result<T>> + Send>> + Send>;

enum Job {
    Read {
        address: Address,
        di: DataId,
        reply: oneshot::Sender<Result<Reading>>,
    },
    Exchange {
        request: FrameBuf<DLT645_FRAME_MAX>,
        address: Address,
        function: Function,
        reply: oneshot::Sender<Result<FrameBuf<DLT645_FRAME_MAX>>>,
    },
    Broadcast {
        request: FrameBuf<DLT645_FRAME_MAX>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// A handle on one DL/T 645 bus. Clone it freely: every clone queues to the same bus task,
/// which runs one exchange at a time; the task stops when the last handle is dropped.
#[derive(Clone)]
pub struct Client {
    jobs: mpsc::Sender<Job>,
    counters: Arc<Counters>,
    config: ClientConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Client {
    /// Runs a bus over an open transport (a serial port, a TCP stream, one end of a pipe);
    /// it is not re-opened when it fails. Must be called inside a tokio runtime.
    pub fn new<T>(io: T, config: ClientConfig) -> Client
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::start(io, None, config, "stream".into())
    }

    /// Connects to a transparent serial server or DTU at `addr` (`host:port`); the bus
    /// re-connects when the link fails (the failing request reports the error).
    ///
    /// # Errors
    ///
    /// The first connection's error.
    pub async fn connect_tcp(addr: &str, config: ClientConfig) -> io::Result<Client> {
        let target = addr.to_owned();
        let stream = tokio::net::TcpStream::connect(&target).await?;
        stream.set_nodelay(true)?;
        let connect: Connect<tokio::net::TcpStream> = Box::new(move || {
            let target = target.clone();
            Box::pin(async move {
                let stream = tokio::net::TcpStream::connect(&target).await?;
                stream.set_nodelay(true)?;
                Ok(stream)
            })
        });
        Ok(Self::start(stream, Some(connect), config, addr.to_owned()))
    }

    fn start<T>(io: T, connect: Option<Connect<T>>, config: ClientConfig, peer: String) -> Client
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (jobs, queue) = mpsc::channel(config.queue.max(1));
        let counters = Arc::new(Counters::default());
        let bus = Bus {
            io: Some(io),
            connect,
            codec: Dlt645Codec::master().with_preamble(config.preamble),
            rx: BytesMut::with_capacity(1024),
            tx: BytesMut::with_capacity(512),
            config,
            counters: Arc::clone(&counters),
            quiet_from: None,
        };
        let span = debug_span!("dlt645_bus", %peer);
        tokio::spawn(bus.run(queue).instrument(span));
        Client {
            jobs,
            counters,
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The bus counters so far.
    pub fn stats(&self) -> BusStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BusStats {
            requests: get(&c.requests),
            replies: get(&c.replies),
            retries: get(&c.retries),
            timeouts: get(&c.timeouts),
            unmatched: get(&c.unmatched),
            echo_bytes: get(&c.echo_bytes),
            noise_bytes: get(&c.noise_bytes),
            reconnects: get(&c.reconnects),
        }
    }

    async fn submit<R>(&self, job: Job, reply: oneshot::Receiver<Result<R>>) -> Result<R> {
        self.jobs.send(job).await.map_err(|_| Error::Closed)?;
        reply.await.map_err(|_| Error::Closed)?
    }

    /// Reads `di` from the meter at `address` (function `11`, or `01` on a 1997 bus), following
    /// up frames until the value is complete; decode it with [`Reading::value`] or
    /// [`Reading::number`].
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`], [`Error::Refused`] (the meter's error word), [`Error::MultiRead`],
    /// [`Error::Io`], [`Error::Closed`].
    pub async fn read(&self, address: Address, di: impl Into<DataId>) -> Result<Reading> {
        let (reply, rx) = oneshot::channel();
        let di = di.into();
        self.submit(Job::Read { address, di, reply }, rx).await
    }

    /// Reads a block identifier (`…FF`: every member of a group in one reply); walk the
    /// members with [`Reading::members`].
    ///
    /// # Errors
    ///
    /// As [`Client::read`].
    pub async fn read_block(&self, address: Address, block: Di) -> Result<Reading> {
        self.read(address, block).await
    }

    /// Sends any request and returns the meter's reply frame (normal or abnormal), e.g. for
    /// functions this handle has no method for.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`], [`Error::Timeout`], [`Error::Io`], [`Error::Closed`].
    pub async fn exchange(&self, request: &Repr<'_>) -> Result<FrameBuf<DLT645_FRAME_MAX>> {
        let function = match request.body {
            Body::Request(r) => r.function(),
            _ => Function::Unknown(request.control().map_err(Error::Encode)?.code()),
        };
        let bytes = encode(&request.with_preamble(self.config.preamble))?;
        let (reply, rx) = oneshot::channel();
        let job = Job::Exchange {
            request: bytes,
            address: request.address,
            function,
            reply,
        };
        self.submit(job, rx).await
    }

    /// Sends `request` and checks that the meter confirmed it.
    async fn command(&self, request: &Repr<'_>) -> Result<()> {
        let frame = self.exchange(request).await?;
        let repr = Repr::parse(&Frame::new_unchecked(frame.as_bytes()), self.config.edition)
            .map_err(Error::Parse)?;
        match repr.body {
            Body::Abnormal { error, .. } => Err(Error::Refused(error)),
            _ => Ok(()),
        }
    }

    /// Writes `data` (plain bytes, wire order) to `di` with a password and operator code
    /// (function `14`).
    ///
    /// # Errors
    ///
    /// As [`Client::exchange`], and [`Error::Refused`] when the meter refuses (wrong password,
    /// read-only identifier …).
    pub async fn write(&self, address: Address, di: Di, auth: Auth, data: &[u8]) -> Result<()> {
        self.command(&Repr::request(
            amikit_dlt645::Edition::V2007,
            address,
            amikit_dlt645::Request::Write {
                di: amikit_dlt645::DataId::V2007(di),
                password: (auth).password,
                operator: Some((auth).operator),
                data: Data::plain(data),
            },
        ))
        .await
    }

    /// Remote control (function `1C`, DL/T 645-2007 amendment: trip, allow close, guard …) in
    /// plaintext, valid until `valid_until`.
    ///
    /// # Errors
    ///
    /// As [`Client::write`].
    pub async fn remote_control(
        &self,
        address: Address,
        auth: Auth,
        command: RemoteCommand,
        valid_until: DateTime,
    ) -> Result<()> {
        self.command(&Repr::request(
            amikit_dlt645::Edition::V2007,
            address,
            amikit_dlt645::Request::RemoteControl(amikit_dlt645::RemoteControl::plain(
                auth,
                command,
                valid_until,
            )),
        ))
        .await
    }

    /// Broadcasts the time (function `08` to `99…99`); meters do not answer.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`], [`Error::Io`], [`Error::Closed`].
    pub async fn broadcast_time(&self, time: DateTime) -> Result<()> {
        let request = Repr::request(
            self.config.edition,
            amikit_dlt645::Address::BROADCAST,
            amikit_dlt645::Request::BroadcastTime { time },
        );
        let bytes = encode(&request.with_preamble(self.config.preamble))?;
        let (reply, rx) = oneshot::channel();
        self.submit(
            Job::Broadcast {
                request: bytes,
                reply,
            },
            rx,
        )
        .await
    }
}

fn encode(repr: &Repr<'_>) -> Result<FrameBuf<DLT645_FRAME_MAX>> {
    let mut buf = [0u8; DLT645_FRAME_MAX];
    let n = repr.emit(&mut buf).map_err(Error::Encode)?;
    FrameBuf::copy_from(buf.get(..n).unwrap_or(&[])).ok_or(Error::Encode(
        amikit_dlt645::EncodeError::BufferTooSmall {
            needed: n,
            got: DLT645_FRAME_MAX,
        },
    ))
}

struct Bus<T> {
    io: Option<T>,
    connect: Option<Connect<T>>,
    codec: Dlt645Codec,
    rx: BytesMut,
    tx: BytesMut,
    config: ClientConfig,
    counters: Arc<Counters>,
    /// When the line last fell quiet (the end of the last exchange).
    quiet_from: Option<Instant>,
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Bus<T> {
    async fn run(mut self, mut queue: mpsc::Receiver<Job>) {
        debug!("bus started");
        while let Some(job) = queue.recv().await {
            match job {
                Job::Read { address, di, reply } => {
                    let span = debug_span!("read", %address, di = ?di);
                    let result = self.read(address, di).instrument(span).await;
                    let _ = reply.send(result);
                }
                Job::Exchange {
                    request,
                    address,
                    function,
                    reply,
                } => {
                    let span = debug_span!("exchange", %address, ?function);
                    let result = self
                        .exchange(request.as_bytes(), address, function)
                        .instrument(span)
                        .await;
                    let _ = reply.send(result);
                }
                Job::Broadcast { request, reply } => {
                    let result = self.broadcast(request.as_bytes()).await;
                    let _ = reply.send(result);
                }
            }
        }
        debug!("bus stopped: no handle left");
    }

    async fn read(&mut self, address: Address, di: DataId) -> Result<Reading> {
        let mut multi = Box::new(MultiRead::<MULTI_READ_MAX>::new(
            self.config.edition,
            address,
            di,
        ));
        let mut request = multi.first_request();
        loop {
            let function = match request.body {
                Body::Request(r) => r.function(),
                _ => Function::Read,
            };
            self.tx.clear();
            tokio_util::codec::Encoder::encode(&mut self.codec, &request, &mut self.tx).map_err(
                |e| match e {
                    crate::codec::CodecError::Dlt645(e) => Error::Encode(e),
                    other => Error::Io(io::Error::other(other)),
                },
            )?;
            let bytes = FrameBuf::<DLT645_FRAME_MAX>::copy_from(&self.tx)
                .ok_or(Error::Io(io::Error::other("request longer than a frame")))?;
            let frame = self.exchange(bytes.as_bytes(), address, function).await?;
            let reply = Repr::parse(&Frame::new_unchecked(frame.as_bytes()), self.config.edition)
                .map_err(Error::Parse)?;
            let frames = multi.frames();
            match multi.on_reply(&reply) {
                Ok(Step::Send(next)) => request = next,
                Ok(Step::Done(data)) => {
                    return Ok(Reading::new(address, di, frames.saturating_add(1), data));
                }
                Err(MultiReadError::Refused(word)) => return Err(Error::Refused(word)),
                Err(e) => return Err(Error::MultiRead(e)),
            }
        }
    }

    /// Waits out the inter-frame gap after the last exchange.
    async fn gap(&mut self) {
        if let Some(quiet) = self.quiet_from {
            let until = quiet + self.config.gap;
            if until > Instant::now() {
                sleep_until(until).await;
            }
        }
    }

    async fn ensure_open(&mut self) -> Result<()> {
        if self.io.is_none() {
            let Some(connect) = &self.connect else {
                return Err(Error::Io(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the transport failed and cannot be re-opened",
                )));
            };
            let io = connect().await?;
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            debug!("transport re-opened");
            self.io = Some(io);
        }
        Ok(())
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.gap().await;
        self.ensure_open().await?;
        let io = self
            .io
            .as_mut()
            .ok_or(Error::Io(io::ErrorKind::NotConnected.into()))?;
        let written = async {
            io.write_all(bytes).await?;
            io.flush().await
        }
        .await;
        if let Err(e) = written {
            warn!(error = %e, "write failed; the transport will be re-opened");
            self.io = None;
            return Err(Error::Io(e));
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        trace!(len = bytes.len(), "request sent");
        Ok(())
    }

    async fn broadcast(&mut self, bytes: &[u8]) -> Result<()> {
        self.send(bytes).await?;
        self.quiet_from = Some(Instant::now());
        Ok(())
    }

    /// One request and its reply: `function` from `address`, retried on silence.
    async fn exchange(
        &mut self,
        bytes: &[u8],
        address: Address,
        function: Function,
    ) -> Result<FrameBuf<DLT645_FRAME_MAX>> {
        // Bytes from before this request (late replies, noise) answer nothing of it.
        self.codec.reset();
        self.rx.clear();
        let attempts = self.config.retries.saturating_add(1);
        for attempt in 0..attempts {
            if attempt > 0 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                debug!(attempt, "no reply: retrying");
            }
            self.send(bytes).await?;
            let deadline = Instant::now() + self.config.response_timeout;
            let found = self.await_reply(deadline, address, function).await;
            self.quiet_from = Some(Instant::now());
            if let Some(frame) = found? {
                self.counters.replies.fetch_add(1, Ordering::Relaxed);
                return Ok(frame);
            }
        }
        self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        Err(Error::Timeout {
            timeout: self.config.response_timeout,
            attempts,
        })
    }

    /// Reads until a reply of `function` from `address` arrives (`None`: the deadline passed).
    async fn await_reply(
        &mut self,
        deadline: Instant,
        address: Address,
        function: Function,
    ) -> Result<Option<FrameBuf<DLT645_FRAME_MAX>>> {
        loop {
            while let Some(item) = self.codec.decode(&mut self.rx)? {
                match item {
                    Dlt645Item::Frame(buf) => {
                        let frame = Frame::new_unchecked(buf.as_bytes());
                        let from = frame.address();
                        let answers = (from == address || address.is_wildcard())
                            && frame.control().function(self.config.edition) == function;
                        if answers {
                            return Ok(Some(buf));
                        }
                        self.counters.unmatched.fetch_add(1, Ordering::Relaxed);
                        debug!(%from, "reply matching no request dropped");
                    }
                    Dlt645Item::Dropped { len, reason } => {
                        let counter = if reason == DropReason::OtherDirection {
                            &self.counters.echo_bytes
                        } else {
                            &self.counters.noise_bytes
                        };
                        counter.fetch_add(len as u64, Ordering::Relaxed);
                        trace!(len, reason = reason.name(), "bytes dropped");
                    }
                }
            }
            self.ensure_open().await?;
            let io = self
                .io
                .as_mut()
                .ok_or(Error::Io(io::ErrorKind::NotConnected.into()))?;
            match timeout_at(deadline, io.read_buf(&mut self.rx)).await {
                Err(_elapsed) => {
                    // The line fell silent: a partial frame will not be completed.
                    if let Some(Dlt645Item::Dropped { len, .. }) =
                        self.codec.decode_eof(&mut self.rx)?
                    {
                        self.counters
                            .noise_bytes
                            .fetch_add(len as u64, Ordering::Relaxed);
                    }
                    return Ok(None);
                }
                Ok(Ok(0)) => {
                    self.io = None;
                    return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    self.io = None;
                    return Err(Error::Io(e));
                }
            }
        }
    }
}
