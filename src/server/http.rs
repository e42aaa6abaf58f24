//! The HTTP server: our own accept loop over hyper (HTTP/1.1, and HTTP/2 with prior knowledge),
//! serving the poem app. It exists because `poem::Server` has no header-read deadline, spins on
//! accept errors (EMFILE), caps nothing, and waits at shutdown for clients stuck in their first
//! request's headers. Here every connection has a deadline whenever it has no request in flight
//! (`Activity`), the number of connections is capped by a semaphore (at the cap we stop
//! accepting, and the kernel's backlog holds new clients), accept errors back off, and shutdown
//! closes idle connections at once and drains only requests in flight.
//! It never reads a body or answers a request itself: that is the app's middleware.

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use hyper::{
    body::{Body, Frame, Incoming, SizeHint},
    service::service_fn,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use poem::{
    Endpoint,
    http::uri::Scheme,
    web::{LocalAddr, RemoteAddr},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The deadlines and the cap that keep slow, silent or numerous clients from holding the server.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Total time to receive a request's line and headers, from when the connection starts
    /// waiting for them (accept, or the first byte after a keep-alive pause).
    pub header_read_timeout: Duration,
    /// Idle time allowed between two requests on a keep-alive connection.
    pub keep_alive_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// At shutdown, how long requests in flight may take to finish.
    pub shutdown_timeout: Duration,
}

/// Our ceilings on a request head are enforced by the middleware, which answers in the
/// envelope; hyper's own (which answer with an empty body) sit well above them.
const HYPER_MAX_BUF_SIZE: usize = 64 * 1024;
const HYPER_MAX_HEADERS: usize = 200;
/// Pause after an accept error that is not about one connection (EMFILE, ENFILE, ENOBUFS), so
/// the loop waits for descriptors to free instead of spinning.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, closes every
/// connection with no request in flight, and gives requests in flight `shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    app: impl Endpoint + 'static,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = Arc::new(app);
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let draining = CancellationToken::new();
    let closing = CancellationToken::new();
    let connections = TaskTracker::new();
    let local = listener.local_addr()?;
    tokio::pin!(shutdown);
    let mut failing_since: Option<Instant> = None;
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, remote)) => {
                if let Some(since) = failing_since.take() {
                    tracing::info!(after_ms = since.elapsed().as_millis(), "accepting again");
                }
                let connection = Connection {
                    app: app.clone(),
                    limits: limits.clone(),
                    draining: draining.clone(),
                    closing: closing.clone(),
                    local,
                    remote,
                    _slot: slot,
                };
                connections.spawn(connection.serve(stream));
            }
            Err(error) if is_per_connection(&error) => {}
            Err(error) => {
                if failing_since.is_none() {
                    tracing::warn!(%error, "accept failed; backing off until it succeeds");
                    failing_since = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_BACKOFF) => {}
                }
            }
        }
    }
    drop(listener);
    draining.cancel();
    connections.close();
    tracing::info!(
        connections = connections.len(),
        "shutting down: closing idle connections, draining requests in flight"
    );
    if tokio::time::timeout(limits.shutdown_timeout, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = connections.len(),
            "requests still in flight after the shutdown timeout; closing them"
        );
        closing.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// Errors about the one connection being accepted (reset before we got to it): accept the next.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

struct Connection<E> {
    app: Arc<E>,
    limits: Arc<ConnectionLimits>,
    draining: CancellationToken,
    /// The shutdown timeout has passed: close even with requests in flight.
    closing: CancellationToken,
    local: SocketAddr,
    remote: SocketAddr,
    /// Held for as long as the connection is open.
    _slot: OwnedSemaphorePermit,
}

impl<E: Endpoint + 'static> Connection<E> {
    async fn serve(self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched {
            inner: stream,
            activity: activity.clone(),
        });
        let service = {
            let (app, activity) = (self.app.clone(), activity.clone());
            let local = LocalAddr(self.local.into());
            let remote = RemoteAddr(self.remote.into());
            service_fn(move |req: hyper::Request<Incoming>| {
                let in_flight = activity.request_started();
                let app = app.clone();
                let parts = (local.clone(), remote.clone());
                async move {
                    let req = poem::Request::from((req, parts.0, parts.1, Scheme::HTTP));
                    let response: hyper::Response<_> = app.get_response(req).await.into();
                    // The request stays in flight until hyper is done with the response body.
                    let response = response.map(|body| Tracked {
                        body,
                        _in_flight: in_flight,
                    });
                    Ok::<_, Infallible>(response)
                }
            })
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .max_buf_size(HYPER_MAX_BUF_SIZE)
            .max_headers(HYPER_MAX_HEADERS)
            .header_read_timeout(None);
        builder
            .http2()
            .max_header_list_size(HYPER_MAX_BUF_SIZE as u32)
            .max_pending_accept_reset_streams(20);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        // One timer for the connection's life. Requests never wake this loop: the timer is
        // always armed no later than the connection's deadline, and no more than `recheck`
        // ahead, so a deadline that moves earlier (the first byte of a head after a keep-alive
        // pause) is found at the next check, which is never later than that deadline itself.
        let recheck = self
            .limits
            .header_read_timeout
            .min(self.limits.keep_alive_timeout);
        let timer = tokio::time::sleep(recheck);
        tokio::pin!(timer);
        let mut draining = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                () = timer.as_mut() => {
                    let now = Instant::now();
                    match activity.deadline(&self.limits) {
                        Some(deadline) if now >= deadline => {
                            tracing::debug!(remote = %self.remote, "closing a connection past its deadline");
                            return;
                        }
                        Some(deadline) => timer.as_mut().reset(deadline.min(now + recheck)),
                        // In flight, or a response still being written: look again later.
                        None => timer.as_mut().reset(now + recheck),
                    }
                }
                () = self.draining.cancelled(), if !draining => {
                    draining = true;
                    // hyper ends the connection after the request in flight; one with none
                    // (idle, or stuck in its headers) is closed now.
                    connection.as_mut().graceful_shutdown();
                    if activity.deadline(&self.limits).is_some() {
                        return;
                    }
                }
                () = self.closing.cancelled() => return,
            }
        }
    }
}

/// What a connection is doing, as far as its deadlines care: requests in flight, and since
/// when it has been waiting for the next request. Updated by the service (a request starts, its
/// response body is dropped) and by the socket (bytes arrive, a write blocks); read by the
/// connection's loop when its timer fires.
struct Activity {
    state: Mutex<State>,
}

struct State {
    in_flight: usize,
    /// When the connection started waiting for a request (accept, or the last response's end).
    waiting_since: Instant,
    /// The first byte of the next request after a keep-alive pause.
    head_started: Option<Instant>,
    /// No request has been received yet: the first one gets the header deadline from accept.
    fresh: bool,
    /// The last write returned `Pending`: hyper still holds response bytes to send.
    write_blocked: bool,
}

impl Activity {
    fn new() -> Self {
        Self {
            state: Mutex::new(State {
                in_flight: 0,
                waiting_since: Instant::now(),
                head_started: None,
                fresh: true,
                write_blocked: false,
            }),
        }
    }

    fn update<T>(&self, change: impl FnOnce(&mut State) -> T) -> T {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.update(|state| {
            state.in_flight += 1;
            state.fresh = false;
            state.head_started = None;
        });
        InFlight(self.clone())
    }

    /// When to close the connection if nothing changes; `None` (never) while a request is in
    /// flight or a response is still being written.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        self.update(|state| {
            if state.in_flight > 0 || state.write_blocked {
                None
            } else if state.fresh {
                Some(state.waiting_since + limits.header_read_timeout)
            } else if let Some(started) = state.head_started {
                Some(started + limits.header_read_timeout)
            } else {
                Some(state.waiting_since + limits.keep_alive_timeout)
            }
        })
    }

    fn bytes_read(&self) {
        self.update(|state| {
            if state.in_flight == 0 && !state.fresh && state.head_started.is_none() {
                state.head_started = Some(Instant::now());
            }
        });
    }

    fn write_blocked(&self, blocked: bool) {
        self.update(|state| state.write_blocked = blocked);
    }
}

/// A request in flight; dropped when hyper drops its response body (sent, or abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.in_flight -= 1;
            if state.in_flight == 0 {
                state.waiting_since = Instant::now();
            }
        });
    }
}

/// A response body that keeps its request in flight until hyper drops it.
struct Tracked<B> {
    body: B,
    _in_flight: InFlight,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, reporting reads and blocked writes to the connection's `Activity`.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.write_blocked(result.is_pending());
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.write_blocked(result.is_pending());
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
