//! Tests of the connection layer over `tokio::io::duplex`.

use std::sync::atomic::AtomicUsize;

use super::*;
use crate::encoding::{EncodingVersion, Identity};
use crate::protocol::{Encapsulation, OperationMode, RequestHeader};
use tokio::io::DuplexStream;

/// Answers every request with its own parameters; `panic` panics,
/// `call_back` invokes `echo` on the connection it was called on before
/// answering. Its counters serve [`Recorder`].
struct Echo {
    finished: Mutex<Vec<u8>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl Echo {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            finished: Mutex::new(Vec::new()),
            running: AtomicUsize::new(0),
            max_running: AtomicUsize::new(0),
        })
    }
}

impl RequestHandler for Echo {
    fn handle(&self, request: Request, connection: Connection) -> BoxFuture<'static, ReplyBody> {
        let op = request.header.operation.clone();
        let params = request.params.clone();
        Box::pin(async move {
            match op.as_str() {
                "panic" => panic!("servant bug"),
                "call_back" => match connection.invoke(request_for("echo", &[7]), false).await {
                    Ok(Reply {
                        body: ReplyBody::Ok(e),
                        ..
                    }) => ReplyBody::Ok(e),
                    other => ReplyBody::UnknownException(format!("{other:?}")),
                },
                _ => ReplyBody::Ok(params),
            }
        })
    }
}

/// Like [`Echo`], but `sleep` sleeps the number of milliseconds in its first
/// parameter byte and records the order dispatches finished in and how
/// many ran at once.
struct Recorder(Arc<Echo>);

impl RequestHandler for Recorder {
    fn handle(&self, request: Request, connection: Connection) -> BoxFuture<'static, ReplyBody> {
        let shared = self.0.clone();
        Box::pin(async move {
            if request.header.operation == "sleep" {
                let now = shared.running.fetch_add(1, Ordering::SeqCst) + 1;
                shared.max_running.fetch_max(now, Ordering::SeqCst);
                let ms = request.params.body.first().copied().unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
                shared.running.fetch_sub(1, Ordering::SeqCst);
                if let Ok(mut f) = shared.finished.lock() {
                    f.push(ms);
                }
                ReplyBody::Ok(request.params)
            } else {
                Echo::new().handle(request, connection).await
            }
        })
    }
}

fn request_for(operation: &str, body: &[u8]) -> Request {
    Request {
        header: RequestHeader {
            request_id: 0,
            identity: Identity {
                name: "obj".into(),
                category: String::new(),
            },
            facet: String::new(),
            operation: operation.into(),
            mode: OperationMode::Normal,
            context: Default::default(),
        },
        params: Encapsulation {
            encoding: EncodingVersion::V1_1,
            body: Bytes::copy_from_slice(body),
        },
    }
}

async fn pair_with(
    server_handler: Arc<dyn RequestHandler>,
    client_handler: Option<Arc<dyn RequestHandler>>,
    config: ConnectionConfig,
) -> Result<(Connection, Connection)> {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let cfg = config.clone();
    let server = tokio::spawn(async move {
        Connection::accept(a, "server".into(), cfg, Some(server_handler)).await
    });
    let client = Connection::connect(b, "client".into(), config, client_handler).await?;
    let server = server.await.map_err(|_| RuntimeError::ConnectionLost)??;
    Ok((client, server))
}

async fn pair() -> Result<(Connection, Connection)> {
    pair_with(Echo::new(), None, ConnectionConfig::default()).await
}

fn ok_body(reply: &Reply) -> Option<&[u8]> {
    match &reply.body {
        ReplyBody::Ok(e) => Some(&e.body),
        _ => None,
    }
}

#[tokio::test]
async fn twoway_gets_its_own_reply_and_ids_differ() -> Result<()> {
    let (client, _server) = pair().await?;
    let (r1, r2) = tokio::join!(
        client.invoke(request_for("echo", &[1, 2]), false),
        client.invoke(request_for("echo", &[3]), false)
    );
    let (r1, r2) = (r1?, r2?);
    assert_eq!(ok_body(&r1), Some(&[1u8, 2][..]));
    assert_eq!(ok_body(&r2), Some(&[3u8][..]));
    assert_ne!(r1.request_id, r2.request_id);
    assert!(r1.request_id > 0 && r2.request_id > 0);
    Ok(())
}

#[tokio::test]
async fn server_sends_validate_connection_first() -> Result<()> {
    let (a, mut b) = tokio::io::duplex(1024);
    let _server = Connection::accept(a, "server".into(), ConnectionConfig::default(), None).await?;
    let mut header = [0u8; 14];
    b.read_exact(&mut header)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    assert_eq!(
        header,
        [b'I', b'c', b'e', b'P', 1, 0, 1, 0, 3, 0, 14, 0, 0, 0]
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn client_waits_for_validation_and_times_out() {
    let (_a, b): (DuplexStream, DuplexStream) = tokio::io::duplex(1024);
    let config = ConnectionConfig {
        validate_timeout: Duration::from_secs(3),
        ..ConnectionConfig::default()
    };
    let r = Connection::connect(b, "client".into(), config, None).await;
    assert!(matches!(
        r,
        Err(RuntimeError::ConnectTimeout { millis: 3000 })
    ));
}

#[tokio::test]
async fn client_rejects_a_server_that_starts_with_garbage() {
    let (mut a, b) = tokio::io::duplex(1024);
    let _ = a.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
    let r = Connection::connect(b, "client".into(), ConnectionConfig::default(), None).await;
    assert!(matches!(
        r,
        Err(RuntimeError::Protocol(ProtocolError::BadMagic { .. }))
    ));
}

#[tokio::test]
async fn garbage_closes_the_connection_and_fails_pending_calls() -> Result<()> {
    let (a, b) = tokio::io::duplex(1024);
    // A fake server: validates, then answers the first request with garbage.
    let fake = tokio::spawn(async move {
        let mut a = a;
        let mut msg = BytesMut::new();
        FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut msg);
        a.write_all(&msg).await?;
        let mut buf = [0u8; 14];
        a.read_exact(&mut buf).await?;
        a.write_all(b"NotIceAtAll!!!!!").await?;
        let mut rest = Vec::new();
        let _ = a.read_to_end(&mut rest).await;
        Ok::<_, std::io::Error>(())
    });
    let client = Connection::connect(b, "client".into(), ConnectionConfig::default(), None).await?;
    let r = client.invoke(request_for("echo", &[1]), false).await;
    assert!(
        matches!(
            r,
            Err(RuntimeError::Protocol(ProtocolError::BadMagic { .. }))
        ),
        "{r:?}"
    );
    assert!(client.is_closed());
    assert!(matches!(
        client.wait_closed().await,
        RuntimeError::Protocol(_)
    ));
    let _ = fake.await;
    Ok(())
}

#[tokio::test]
async fn oversized_message_is_refused_from_its_header() -> Result<()> {
    let config = ConnectionConfig {
        message_size_max: 1024,
        ..ConnectionConfig::default()
    };
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = Connection::accept(a, "server".into(), config, Some(Echo::new())).await?;
    let mut b = b;
    let mut validate = [0u8; 14];
    b.read_exact(&mut validate)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    // Only a header announcing 1 MiB: refused before any body arrives.
    let mut header = BytesMut::new();
    crate::protocol::Header::write(
        MessageType::Request,
        CompressionStatus::NotCompressed,
        1 << 20,
        &mut header,
    );
    b.write_all(&header)
        .await
        .map_err(|e| RuntimeError::io("write", e))?;
    assert!(matches!(
        server.wait_closed().await,
        RuntimeError::Protocol(ProtocolError::MessageTooLarge {
            size: 1_048_576,
            max: 1024
        })
    ));
    Ok(())
}

#[tokio::test]
async fn peer_vanishing_mid_message_loses_the_connection() -> Result<()> {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = Connection::accept(a, "server".into(), ConnectionConfig::default(), None).await?;
    let mut b = b;
    let mut validate = [0u8; 14];
    b.read_exact(&mut validate)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    let mut msg = BytesMut::new();
    FrameEncoder::encode(
        MessageType::Request,
        &request_for("echo", &[1, 2, 3]).to_body(),
        false,
        &mut msg,
    );
    b.write_all(&msg[..msg.len() - 3])
        .await
        .map_err(|e| RuntimeError::io("write", e))?;
    drop(b);
    assert!(matches!(
        server.wait_closed().await,
        RuntimeError::ConnectionLost
    ));
    Ok(())
}

#[tokio::test]
async fn dispatch_is_serial_and_in_order_by_default() -> Result<()> {
    let rec = Echo::new();
    let (client, _server) = pair_with(
        Arc::new(Recorder(rec.clone())),
        None,
        ConnectionConfig::default(),
    )
    .await?;
    let calls = [40u8, 1, 20, 5].map(|ms| client.invoke(request_for("sleep", &[ms]), false));
    let [a, b, c, d] = calls;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    for r in [a, b, c, d] {
        assert!(ok_body(&r?).is_some());
    }
    assert_eq!(
        *rec.finished
            .lock()
            .map_err(|_| RuntimeError::ConnectionLost)?,
        vec![40, 1, 20, 5]
    );
    assert_eq!(rec.max_running.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn max_dispatches_allows_concurrency() -> Result<()> {
    let rec = Echo::new();
    let config = ConnectionConfig {
        max_dispatches: 4,
        ..ConnectionConfig::default()
    };
    let (client, _server) = pair_with(Arc::new(Recorder(rec.clone())), None, config).await?;
    let calls = [60u8, 1, 30, 5].map(|ms| client.invoke(request_for("sleep", &[ms]), false));
    let [a, b, c, d] = calls;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    for r in [a, b, c, d] {
        r?;
    }
    assert!(rec.max_running.load(Ordering::SeqCst) > 1);
    assert_eq!(
        *rec.finished
            .lock()
            .map_err(|_| RuntimeError::ConnectionLost)?,
        vec![1, 5, 30, 60]
    );
    Ok(())
}

#[tokio::test]
async fn servant_panic_becomes_unknown_exception_and_connection_goes_on() -> Result<()> {
    let (client, _server) = pair().await?;
    let r = client.invoke(request_for("panic", &[]), false).await?;
    assert!(matches!(r.body, ReplyBody::UnknownException(ref s) if s.contains("panic")));
    let r = client.invoke(request_for("echo", &[9]), false).await?;
    assert_eq!(ok_body(&r), Some(&[9u8][..]));
    Ok(())
}

#[tokio::test]
async fn servant_can_call_back_over_the_same_connection() -> Result<()> {
    // The client side serves too (a bidirectional connection); the server's
    // dispatch calls the client while the client waits for its reply.
    let (client, _server) =
        pair_with(Echo::new(), Some(Echo::new()), ConnectionConfig::default()).await?;
    let r = tokio::time::timeout(
        Duration::from_secs(5),
        client.invoke(request_for("call_back", &[]), false),
    )
    .await
    .map_err(|_| RuntimeError::InvocationTimeout { millis: 5000 })??;
    assert_eq!(ok_body(&r), Some(&[7u8][..]));
    Ok(())
}

#[tokio::test]
async fn requests_without_a_handler_get_object_not_exist() -> Result<()> {
    let (client, server) = pair().await?;
    // The server calls the client, which has no adapter.
    let r = server.invoke(request_for("echo", &[1]), false).await?;
    assert!(matches!(r.body, ReplyBody::ObjectNotExist(ref f) if f.operation == "echo"));
    drop(client);
    Ok(())
}

#[tokio::test]
async fn oneway_and_batch_requests_are_dispatched_without_replies() -> Result<()> {
    let rec = Echo::new();
    let (client, _server) = pair_with(
        Arc::new(Recorder(rec.clone())),
        None,
        ConnectionConfig::default(),
    )
    .await?;
    client.send_oneway(request_for("sleep", &[1]), false)?;
    client.send_batch(
        &[request_for("sleep", &[2]), request_for("sleep", &[3])],
        false,
    )?;
    // A twoway after them is dispatched after them.
    client.invoke(request_for("sleep", &[4]), false).await?;
    assert_eq!(
        *rec.finished
            .lock()
            .map_err(|_| RuntimeError::ConnectionLost)?,
        vec![1, 2, 3, 4]
    );
    Ok(())
}

#[tokio::test]
async fn graceful_close_waits_for_dispatch_and_peer_sees_close_connection() -> Result<()> {
    let rec = Echo::new();
    let (client, server) = pair_with(
        Arc::new(Recorder(rec.clone())),
        None,
        ConnectionConfig::default(),
    )
    .await?;
    let call = {
        let client = client.clone();
        tokio::spawn(async move { client.invoke(request_for("sleep", &[50]), false).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    server.close().await;
    let reply = call.await.map_err(|_| RuntimeError::ConnectionLost)??;
    assert_eq!(ok_body(&reply), Some(&[50u8][..]));
    assert!(matches!(
        client.wait_closed().await,
        RuntimeError::CloseConnection
    ));
    assert!(matches!(
        server.wait_closed().await,
        RuntimeError::ConnectionClosed
    ));
    // New invocations are refused without being sent.
    assert!(client
        .invoke(request_for("echo", &[]), false)
        .await
        .is_err());
    Ok(())
}

#[tokio::test]
async fn compressed_requests_get_compressed_replies() -> Result<()> {
    let (client, _server) = pair().await?;
    let big = vec![b'a'; 5000];
    let r = client.invoke(request_for("echo", &big), true).await?;
    assert_eq!(ok_body(&r), Some(&big[..]));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn heartbeats_are_sent_when_idle_and_ignored_when_received() -> Result<()> {
    let config = ConnectionConfig {
        heartbeat: Some(Duration::from_secs(1)),
        ..ConnectionConfig::default()
    };
    let (a, b) = tokio::io::duplex(64 * 1024);
    let _server = Connection::accept(a, "server".into(), config, Some(Echo::new())).await?;
    let mut b = b;
    let mut buf = [0u8; 28];
    b.read_exact(&mut buf)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    assert_eq!(buf[8], 3);
    assert_eq!(buf[14 + 8], 3, "a second validate connection (heartbeat)");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn heartbeats_are_sent_during_a_long_dispatch_only() -> Result<()> {
    let rec = Echo::new();
    let config = ConnectionConfig {
        heartbeat_on_dispatch: Some(Duration::from_millis(100)),
        ..ConnectionConfig::default()
    };
    let (a, b) = tokio::io::duplex(64 * 1024);
    let _server =
        Connection::accept(a, "server".into(), config, Some(Arc::new(Recorder(rec)))).await?;
    let mut b = b;
    let mut buf = [0u8; 14];
    b.read_exact(&mut buf)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    // Idle: nothing but the first validation for a long while.
    let idle = tokio::time::timeout(Duration::from_secs(10), b.read_exact(&mut buf)).await;
    assert!(idle.is_err(), "heartbeat sent while idle");
    // A dispatch of 250 ms (the parameter byte): heartbeats every 100 ms
    // while it runs, then the reply.
    let mut request = request_for("sleep", &[250]);
    request.header.request_id = 1;
    let mut msg = BytesMut::new();
    FrameEncoder::encode(MessageType::Request, &request.to_body(), false, &mut msg);
    b.write_all(&msg)
        .await
        .map_err(|e| RuntimeError::io("write", e))?;
    let mut heartbeats = 0;
    loop {
        tokio::time::timeout(Duration::from_secs(5), b.read_exact(&mut buf))
            .await
            .map_err(|_| RuntimeError::InvocationTimeout { millis: 5000 })?
            .map_err(|e| RuntimeError::io("read", e))?;
        match buf[8] {
            3 => heartbeats += 1,
            2 => break,
            other => panic!("unexpected message type {other}"),
        }
        let size =
            usize::try_from(i32::from_le_bytes([buf[10], buf[11], buf[12], buf[13]])).unwrap_or(14);
        assert_eq!(size, 14);
    }
    assert!(heartbeats >= 1, "no heartbeat during a 250 ms dispatch");
    Ok(())
}

#[test]
fn trace_protocol_logs_messages_both_ways() -> Result<()> {
    let log = crate::test_support::captured_traces(async {
        let config = ConnectionConfig {
            trace_protocol: 1,
            trace_network: 1,
            ..ConnectionConfig::default()
        };
        let (client, server) = pair_with(Echo::new(), None, config).await?;
        client.invoke(request_for("echo", &[1]), false).await?;
        server.close().await;
        client.wait_closed().await;
        Ok(())
    })?;
    for wanted in [
        "sending message connection=client message_type=Request",
        "received message connection=server message_type=Request",
        "sending message connection=server message_type=Reply",
        "received message connection=client message_type=Reply",
        "sending message connection=server message_type=CloseConnection",
        "established tcp connection connection=server side=\"server\"",
        "closed tcp connection connection=client",
    ] {
        assert!(log.contains(wanted), "missing `{wanted}` in:\n{log}");
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn idle_connections_close_gracefully_but_not_while_busy() -> Result<()> {
    let rec = Echo::new();
    let config = ConnectionConfig {
        idle_close: Some(Duration::from_millis(100)),
        ..ConnectionConfig::default()
    };
    let (client, server) = pair_with(Arc::new(Recorder(rec)), None, config).await?;
    // A 250 ms dispatch outlasts the idle period: the call still completes.
    let mut request = request_for("sleep", &[250]);
    request.header.request_id = 1;
    let reply = client.invoke(request, false).await?;
    assert!(ok_body(&reply).is_some());
    // Then nothing happens: one side closes gracefully.
    let reason = tokio::time::timeout(Duration::from_secs(5), client.wait_closed())
        .await
        .map_err(|_| RuntimeError::InvocationTimeout { millis: 5000 })?;
    assert!(
        matches!(
            reason,
            RuntimeError::ConnectionClosed | RuntimeError::CloseConnection
        ),
        "{reason:?}"
    );
    let _ = server.wait_closed().await;
    Ok(())
}

/// A connected pair with a configuration per side.
async fn pair_with_configs(
    server_handler: Arc<dyn RequestHandler>,
    client_config: ConnectionConfig,
    server_config: ConnectionConfig,
) -> Result<(Connection, Connection)> {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let server = tokio::spawn(async move {
        Connection::accept(a, "server".into(), server_config, Some(server_handler)).await
    });
    let client = Connection::connect(b, "client".into(), client_config, None).await?;
    let server = server.await.map_err(|_| RuntimeError::ConnectionLost)??;
    Ok((client, server))
}

#[tokio::test(start_paused = true)]
async fn close_on_invocation_aborts_a_silent_peer_but_not_a_heartbeating_one() -> Result<()> {
    // The server dispatches for 200 ms; with heartbeats every 10 ms while
    // dispatching, the client's 40 ms CloseOnInvocation sees traffic.
    let client_config = ConnectionConfig {
        close_on_invocation: Some(Duration::from_millis(40)),
        ..ConnectionConfig::default()
    };
    let server_config = ConnectionConfig {
        heartbeat_on_dispatch: Some(Duration::from_millis(10)),
        ..ConnectionConfig::default()
    };
    let (client, _server) = pair_with_configs(
        Arc::new(Recorder(Echo::new())),
        client_config.clone(),
        server_config,
    )
    .await?;
    let mut request = request_for("sleep", &[200]);
    request.header.request_id = 1;
    let reply = client.invoke(request, false).await?;
    assert!(ok_body(&reply).is_some());
    // An idle connection with nothing waiting stays open.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!client.is_closed());

    // Without heartbeats the peer looks dead: the call fails after the
    // ACM timeout with ConnectionTimeout.
    let silent = ConnectionConfig {
        heartbeat_on_dispatch: None,
        ..ConnectionConfig::default()
    };
    let (client, _server) =
        pair_with_configs(Arc::new(Recorder(Echo::new())), client_config, silent).await?;
    let mut request = request_for("sleep", &[200]);
    request.header.request_id = 1;
    match client.invoke(request, false).await {
        Err(RuntimeError::ConnectionTimeout { millis }) => assert!(millis >= 40, "{millis}"),
        other => panic!("expected ConnectionTimeout, got {other:?}"),
    }
    assert!(client.is_closed());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn forceful_idle_close_ignores_pending_requests() -> Result<()> {
    let client_config = ConnectionConfig {
        forceful_idle_close: Some(Duration::from_millis(40)),
        ..ConnectionConfig::default()
    };
    let silent = ConnectionConfig {
        heartbeat_on_dispatch: None,
        ..ConnectionConfig::default()
    };
    let (client, _server) =
        pair_with_configs(Arc::new(Recorder(Echo::new())), client_config, silent).await?;
    let mut request = request_for("sleep", &[200]);
    request.header.request_id = 1;
    assert!(matches!(
        client.invoke(request, false).await,
        Err(RuntimeError::ConnectionTimeout { .. })
    ));
    Ok(())
}

/// Small, medium and large messages queued together reach the peer whole
/// and in order, large bodies (written from where they are, behind what
/// was gathered) included, through a pipe far smaller than they are.
#[tokio::test]
async fn large_and_small_messages_interleave_intact() -> Result<()> {
    let (client, _server) = pair().await?;
    let bodies: Vec<Vec<u8>> = (0..24usize)
        .map(|i| {
            let len = match i % 3 {
                0 => 3 + i,
                1 => COPY_LIMIT + i,
                _ => 300_000 + i,
            };
            (0..len).map(|j| ((i * 31 + j) % 251) as u8).collect()
        })
        .collect();
    let calls = bodies
        .iter()
        .map(|b| client.invoke(request_for("echo", b), false));
    let replies = futures_join_all(calls).await;
    for (reply, body) in replies.into_iter().zip(&bodies) {
        assert_eq!(ok_body(&reply?), Some(&body[..]));
    }
    Ok(())
}

/// Awaits every future (all polled at once) and returns their outputs in order.
async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in set.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// A writer that takes at most `limit` bytes per call, across all the
/// slices of a vectored write, and refuses every third call.
struct Stingy {
    got: Vec<u8>,
    limit: usize,
    calls: usize,
}

impl AsyncWrite for Stingy {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.poll_write_vectored(cx, &[std::io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return std::task::Poll::Pending;
        }
        let mut room = self.limit;
        let mut taken = 0;
        for buf in bufs {
            let n = buf.len().min(room);
            self.got.extend_from_slice(&buf[..n]);
            room -= n;
            taken += n;
        }
        std::task::Poll::Ready(Ok(taken))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Messages written without waiting, in as many partial writes as the
/// stream makes them, reach it whole and in order: what a refused or short
/// write leaves stays in the batch, cut where the stream stopped.
#[test]
fn partial_writes_leave_exactly_the_rest() {
    let mut expected = Vec::new();
    let mut batch = Vec::new();
    // More messages than one vectored write takes, with empty heads and
    // bodies among them.
    for i in 0..40usize {
        let head: Vec<u8> = (0..(i % 4) * 5).map(|j| (i + j) as u8).collect();
        let body: Vec<u8> = (0..(i % 5) * 7).map(|j| (i * 3 + j) as u8).collect();
        expected.extend_from_slice(&head);
        expected.extend_from_slice(&body);
        batch.push(MessageParts {
            head: Bytes::from(head),
            body: Bytes::from(body),
        });
    }
    for limit in [1, 3, 16, 1000] {
        let mut stream = Stingy {
            got: Vec::new(),
            limit,
            calls: 0,
        };
        let mut left = batch.clone();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut rounds = 0;
        while !left.is_empty() {
            let pinned: Pin<&mut Stingy> = Pin::new(&mut stream);
            try_write_parts(pinned, &mut cx, &mut left).unwrap();
            let after: usize = left.iter().map(MessageParts::len).sum();
            // What left the batch is exactly what the stream took.
            assert_eq!(expected.len() - after, stream.got.len());
            rounds += 1;
            assert!(rounds < 100_000, "no progress");
        }
        assert_eq!(stream.got, expected, "limit {limit}");
    }
}

/// A large message's read buffer starts at a page boundary, holds what was
/// read so far, and has room for the rest without growing.
#[test]
fn large_reads_go_to_a_page_aligned_buffer() {
    for len in [0usize, 14, 5000] {
        let head: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let more = PAGE_ALIGNED_READ + 12_345;
        let buf = page_aligned_copy(&head, more);
        assert_eq!(buf.as_ptr() as usize % 4096, 0, "{len} bytes read");
        assert_eq!(&buf[..], &head[..]);
        assert!(buf.capacity() - buf.len() >= more);
    }
}

/// A raw peer of a server connection over a duplex of `capacity` bytes:
/// the server's validate connection message is read already.
async fn raw_peer(
    handler: Arc<dyn RequestHandler>,
    config: ConnectionConfig,
    capacity: usize,
) -> Result<(Connection, DuplexStream)> {
    let (a, mut b) = tokio::io::duplex(capacity);
    let server = Connection::accept(a, "server".into(), config, Some(handler)).await?;
    let mut validate = [0u8; 14];
    b.read_exact(&mut validate)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    Ok((server, b))
}

/// The bytes of a twoway request `operation(body)` with id `id`.
fn request_bytes(id: i32, operation: &str, body: &[u8]) -> Bytes {
    request_for(operation, body)
        .to_parts_with_id(id, false)
        .to_bytes()
}

/// Reads everything until the peer closes and cuts it into frames.
async fn frames_until_eof(peer: &mut DuplexStream) -> Result<Vec<crate::protocol::Frame>> {
    let mut all = Vec::new();
    peer.read_to_end(&mut all)
        .await
        .map_err(|e| RuntimeError::io("read", e))?;
    let mut buf = BytesMut::from(&all[..]);
    let mut decoder = FrameDecoder::new(DEFAULT_MESSAGE_SIZE_MAX);
    let mut frames = Vec::new();
    while let Some(frame) = decoder.decode(&mut buf)? {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "{} bytes after the last frame", buf.len());
    Ok(frames)
}

/// As in ZeroC: requests that came before the peer's close connection are
/// answered, whether they finished at once or were still being
/// dispatched, and then the server closes its side.
#[tokio::test]
async fn requests_before_close_connection_get_their_replies() -> Result<()> {
    for (operation, body) in [("echo", &[9u8][..]), ("sleep", &[30u8][..])] {
        let (server, mut peer) = raw_peer(
            Arc::new(Recorder(Echo::new())),
            ConnectionConfig::default(),
            64 * 1024,
        )
        .await?;
        let mut msg = BytesMut::from(&request_bytes(7, operation, body)[..]);
        FrameEncoder::encode_empty(MessageType::CloseConnection, &mut msg);
        peer.write_all(&msg)
            .await
            .map_err(|e| RuntimeError::io("write", e))?;
        let frames = frames_until_eof(&mut peer).await?;
        assert_eq!(frames.len(), 1, "{operation}: {frames:?}");
        assert_eq!(frames[0].message_type, MessageType::Reply);
        let reply = Reply::decode(frames[0].body.clone())?;
        assert_eq!(reply.request_id, 7);
        assert_eq!(ok_body(&reply), Some(body));
        drop(peer);
        assert!(matches!(
            server.wait_closed().await,
            RuntimeError::CloseConnection
        ));
    }
    Ok(())
}

/// A client's own waiting invocation fails with `CloseConnection` (safe
/// to retry) when the server closes gracefully, as before.
#[tokio::test]
async fn close_connection_fails_waiting_invocations_as_retryable() -> Result<()> {
    let (client, server) = pair_with(
        Arc::new(Recorder(Echo::new())),
        None,
        ConnectionConfig::default(),
    )
    .await?;
    let call = {
        let client = client.clone();
        tokio::spawn(async move { client.invoke(request_for("sleep", &[200]), false).await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The server closes while the client waits: its close waits for the
    // dispatch, so the reply comes first.
    server.close().await;
    let r = call.await.map_err(|_| RuntimeError::ConnectionLost)?;
    assert!(r.is_ok(), "{r:?}");
    assert!(client.is_closed());
    Ok(())
}

/// Answers `big` with `n` KiB (its first parameter byte) of zeros.
struct Big;

impl RequestHandler for Big {
    fn handle(&self, request: Request, _: Connection) -> BoxFuture<'static, ReplyBody> {
        let kib = usize::from(request.params.body.first().copied().unwrap_or(0));
        Box::pin(std::future::ready(ReplyBody::Ok(Encapsulation {
            encoding: EncodingVersion::V1_1,
            body: Bytes::from(vec![0u8; kib * 1024]),
        })))
    }
}

/// A peer that sends requests and does not read the replies: the server
/// stops reading once its send queue passes the bound, so what it holds
/// stays near the bound; once the peer reads, every reply arrives.
#[tokio::test]
async fn a_peer_that_does_not_read_is_held_to_the_send_queue_bound() -> Result<()> {
    const MAX: usize = 256 * 1024;
    let config = ConnectionConfig {
        send_queue_max: MAX,
        ..ConnectionConfig::default()
    };
    let (server, peer) = raw_peer(Arc::new(Big), config, 16 * 1024).await?;
    let (mut rd, mut wr) = tokio::io::split(peer);
    // 200 requests of 1 KiB for 64 KiB each: 12.5 MiB of replies, far
    // past the bound, and more requests than the pipe and the server's
    // read buffer hold.
    let sender = tokio::spawn(async move {
        let mut params = vec![0u8; 1024];
        params[0] = 64;
        for id in 1..=200 {
            wr.write_all(&request_bytes(id, "big", &params)).await?;
        }
        Ok::<_, std::io::Error>(wr)
    });
    let mut peak = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        peak = peak.max(server.queued_bytes());
    }
    // The sender is blocked: the server no longer reads it.
    assert!(!sender.is_finished(), "the server read every request");
    // The bound plus the reply of the request it read last (and its header).
    assert!(peak <= MAX + 65 * 1024, "queued {peak} bytes");
    assert!(peak >= MAX / 2, "queued only {peak} bytes");
    // Reading now drains the queue; every request gets its reply.
    let reader = tokio::spawn(async move {
        let mut decoder = FrameDecoder::new(DEFAULT_MESSAGE_SIZE_MAX);
        let mut buf = BytesMut::new();
        let mut ids = Vec::new();
        while ids.len() < 200 {
            if let Some(frame) = decoder.decode(&mut buf)? {
                ids.push(Reply::decode(frame.body)?.request_id);
                continue;
            }
            if rd
                .read_buf(&mut buf)
                .await
                .map_err(|e| RuntimeError::io("read", e))?
                == 0
            {
                break;
            }
        }
        Ok::<_, RuntimeError>(ids)
    });
    let ids = reader.await.map_err(|_| RuntimeError::ConnectionLost)??;
    assert_eq!(ids, (1..=200).collect::<Vec<_>>());
    let _wr = sender.await.map_err(|_| RuntimeError::ConnectionLost)?;
    assert_eq!(server.queued_bytes(), 0);
    Ok(())
}

mod fuzz {
    //! Hostile byte streams against a server connection: whatever
    //! arrives, the connection answers or closes, and never panics or
    //! hangs.
    use super::*;
    use proptest::prelude::*;

    /// One piece of what a peer sends.
    #[derive(Debug, Clone)]
    enum Piece {
        Request(i32, u8),
        Oneway(u8),
        Batch(u8),
        Heartbeat,
        Close,
        /// A valid request with one byte changed.
        Mutated(usize, u8),
        /// A header with any type, compression and size.
        Header(u8, u8, i32),
        Garbage(Vec<u8>),
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            (any::<i32>(), any::<u8>()).prop_map(|(id, b)| Piece::Request(id, b)),
            any::<u8>().prop_map(Piece::Oneway),
            any::<u8>().prop_map(Piece::Batch),
            Just(Piece::Heartbeat),
            Just(Piece::Close),
            (0usize..64, any::<u8>()).prop_map(|(i, b)| Piece::Mutated(i, b)),
            (0u8..8, 0u8..4, -20i32..200).prop_map(|(t, c, s)| Piece::Header(t, c, s)),
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Piece::Garbage),
        ]
    }

    fn bytes_of(piece: &Piece) -> Vec<u8> {
        let mut msg = BytesMut::new();
        match piece {
            Piece::Request(id, b) => return request_bytes(*id, "echo", &[*b]).to_vec(),
            Piece::Oneway(b) => return request_bytes(0, "echo", &[*b]).to_vec(),
            Piece::Batch(b) => {
                let batch = crate::protocol::encode_batch(&[request_for("echo", &[*b])]);
                FrameEncoder::encode(MessageType::BatchRequest, &batch, false, &mut msg);
            }
            Piece::Heartbeat => {
                FrameEncoder::encode_empty(MessageType::ValidateConnection, &mut msg)
            }
            Piece::Close => FrameEncoder::encode_empty(MessageType::CloseConnection, &mut msg),
            Piece::Mutated(i, b) => {
                let mut v = request_bytes(1, "echo", &[1, 2, 3]).to_vec();
                let len = v.len();
                if let Some(x) = v.get_mut(i % len) {
                    *x ^= b | 1;
                }
                return v;
            }
            Piece::Header(t, c, s) => {
                msg.extend_from_slice(&[b'I', b'c', b'e', b'P', 1, 0, 1, 0, *t, *c]);
                msg.extend_from_slice(&s.to_le_bytes());
            }
            Piece::Garbage(g) => return g.clone(),
        }
        msg.to_vec()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        #[test]
        fn hostile_streams_end_in_replies_or_a_close(
            pieces in proptest::collection::vec(piece(), 1..12),
            chunk in 1usize..64,
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let outcome = runtime.block_on(async {
                let (server, peer) = raw_peer(
                    Echo::new(),
                    ConnectionConfig {
                        message_size_max: 4096,
                        close_timeout: Duration::from_secs(2),
                        ..ConnectionConfig::default()
                    },
                    1024,
                )
                .await?;
                let (mut rd, mut wr) = tokio::io::split(peer);
                let bytes: Vec<u8> = pieces.iter().flat_map(bytes_of).collect();
                // Whatever comes back is read, so the server never blocks.
                let drain = tokio::spawn(async move {
                    let mut sink = Vec::new();
                    let _ = rd.read_to_end(&mut sink).await;
                    sink.len()
                });
                for part in bytes.chunks(chunk) {
                    if wr.write_all(part).await.is_err() {
                        break;
                    }
                }
                let _ = wr.shutdown().await;
                let reason = tokio::time::timeout(Duration::from_secs(3), server.wait_closed())
                    .await
                    .map_err(|_| RuntimeError::ConnectionLost)?;
                let _ = drain.await;
                Ok::<_, RuntimeError>(reason)
            });
            prop_assert!(outcome.is_ok(), "the connection hung: {outcome:?}");
        }
    }
}
