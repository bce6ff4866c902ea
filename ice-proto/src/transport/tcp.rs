//! TCP on tokio: connecting and accepting. Every other transport (`ssl`,
//! `ws`, `wss`) starts from a TCP stream opened here.
//!
//! Socket buffer sizes are the operating system's (on Linux, tuned as the
//! connection goes) unless `Ice.TCP.RcvSize` / `Ice.TCP.SndSize` ask for
//! others, as in ZeroC Ice: see [`BufferSizes`], [`connect_with`] and
//! [`TcpAcceptor::bind_with`]. The listen queue is `Ice.TCP.Backlog`
//! long (see [`backlog_from_properties`]), for every acceptor.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use crate::properties::Properties;
use crate::runtime_error::{Result, RuntimeError};

/// The listen queue of an acceptor when `Ice.TCP.Backlog` is not set:
/// ZeroC's C++ default, `SOMAXCONN` (4096 in Linux's headers; the kernel
/// bounds it by `net.core.somaxconn`). Tokio's own default, 1024 or less,
/// drops the SYNs of a burst of clients, which then wait for their
/// retransmissions (seconds) to be accepted.
pub const DEFAULT_BACKLOG: u32 = 4096;

/// The listen queue `Ice.TCP.Backlog` asks for; unset, zero, negative or
/// non-numeric values give [`DEFAULT_BACKLOG`].
#[must_use]
pub fn backlog_from_properties(properties: &Properties) -> u32 {
    u32::try_from(properties.get_property_as_int_with_default(
        "Ice.TCP.Backlog",
        i32::try_from(DEFAULT_BACKLOG).unwrap_or(i32::MAX),
    ))
    .ok()
    .filter(|&n| n > 0)
    .unwrap_or(DEFAULT_BACKLOG)
}

/// TCP receive and send buffer sizes, in bytes; `None` leaves the
/// operating system's default (and, on Linux, its automatic tuning).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BufferSizes {
    /// `SO_RCVBUF`, from `Ice.TCP.RcvSize`.
    pub rcv: Option<u32>,
    /// `SO_SNDBUF`, from `Ice.TCP.SndSize`.
    pub snd: Option<u32>,
}

impl BufferSizes {
    /// The sizes `Ice.TCP.RcvSize` and `Ice.TCP.SndSize` set; unset, zero,
    /// negative or non-numeric values leave the system's default.
    #[must_use]
    pub fn from_properties(properties: &Properties) -> Self {
        let size = |key: &str| u32::try_from(properties.get_property_as_int(key)).ok();
        Self {
            rcv: size("Ice.TCP.RcvSize").filter(|&n| n > 0),
            snd: size("Ice.TCP.SndSize").filter(|&n| n > 0),
        }
    }

    /// Whether both are the system's.
    #[must_use]
    pub fn is_default(&self) -> bool {
        self.rcv.is_none() && self.snd.is_none()
    }

    /// Sets the sizes asked for on `socket`. The system may round them or
    /// bound them; like ZeroC Ice, this warns when it gave less than asked
    /// (Linux reports twice the size set, its bookkeeping included).
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the socket refuses the option.
    pub fn apply(&self, socket: &TcpSocket) -> Result<()> {
        if let Some(rcv) = self.rcv {
            socket
                .set_recv_buffer_size(rcv)
                .map_err(|e| RuntimeError::io("set SO_RCVBUF", e))?;
            if let Ok(got) = socket.recv_buffer_size() {
                if got < rcv {
                    tracing::warn!(
                        requested = rcv,
                        adjusted = got,
                        "TCP receive buffer size: requested size exceeds the system limit"
                    );
                }
            }
        }
        if let Some(snd) = self.snd {
            socket
                .set_send_buffer_size(snd)
                .map_err(|e| RuntimeError::io("set SO_SNDBUF", e))?;
            if let Ok(got) = socket.send_buffer_size() {
                if got < snd {
                    tracing::warn!(
                        requested = snd,
                        adjusted = got,
                        "TCP send buffer size: requested size exceeds the system limit"
                    );
                }
            }
        }
        Ok(())
    }
}

/// A fresh socket of `addr`'s family with `sizes` set.
fn socket_for(addr: &SocketAddr, sizes: BufferSizes) -> Result<TcpSocket> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| RuntimeError::io("socket", e))?;
    sizes.apply(&socket)?;
    Ok(socket)
}

/// Opens a TCP connection to `host:port`, with `TCP_NODELAY` set as Ice does.
///
/// # Errors
/// [`RuntimeError::Io`] when the name does not resolve or the connection is
/// refused.
pub async fn connect(host: &str, port: u16) -> Result<TcpStream> {
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let stream = TcpStream::connect((host, port))
        .await
        .map_err(|e| RuntimeError::io("connect", e))?;
    stream
        .set_nodelay(true)
        .map_err(|e| RuntimeError::io("set TCP_NODELAY", e))?;
    Ok(stream)
}

/// [`connect`] with socket buffer sizes (set before connecting, so that
/// the window the connection opens with accounts for them).
///
/// # Errors
/// [`RuntimeError::Io`] when the name does not resolve, every address
/// refuses the connection, or a buffer size cannot be set.
pub async fn connect_with(host: &str, port: u16, sizes: BufferSizes) -> Result<TcpStream> {
    if sizes.is_default() {
        return connect(host, port).await;
    }
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| RuntimeError::io("connect", e))?;
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        let socket = socket_for(&addr, sizes)?;
        match socket.connect(addr).await {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|e| RuntimeError::io("set TCP_NODELAY", e))?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(RuntimeError::io("connect", last))
}

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpAcceptor {
    listener: TcpListener,
}

impl TcpAcceptor {
    /// Binds to `host:port` with the system's buffer sizes and a listen
    /// queue of [`DEFAULT_BACKLOG`]; port 0 picks a free port (see
    /// [`TcpAcceptor::local_addr`]).
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the address cannot be bound.
    pub async fn bind(host: &str, port: u16) -> Result<Self> {
        Self::bind_with(host, port, BufferSizes::default(), DEFAULT_BACKLOG).await
    }

    /// [`TcpAcceptor::bind`] with socket buffer sizes, set on the listening
    /// socket so that every accepted connection inherits them, and a listen
    /// queue of `backlog` connections.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the address cannot be resolved or bound,
    /// or a buffer size cannot be set.
    pub async fn bind_with(
        host: &str,
        port: u16,
        sizes: BufferSizes,
        backlog: u32,
    ) -> Result<Self> {
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        let addrs = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| RuntimeError::io("bind", e))?;
        for addr in addrs {
            let socket = socket_for(&addr, sizes)?;
            // As `TcpListener::bind` does on Unix.
            socket
                .set_reuseaddr(true)
                .map_err(|e| RuntimeError::io("set SO_REUSEADDR", e))?;
            match socket.bind(addr).and_then(|()| socket.listen(backlog)) {
                Ok(listener) => return Ok(Self { listener }),
                Err(e) => last = e,
            }
        }
        Err(RuntimeError::io("bind", last))
    }

    /// The address actually bound.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] if the socket has no address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| RuntimeError::io("local_addr", e))
    }

    /// Waits for the next incoming connection.
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when accepting fails.
    pub async fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self
            .listener
            .accept()
            .await
            .map_err(|e| RuntimeError::io("accept", e))?;
        // Best effort: a socket that refuses NODELAY still works.
        let _ = stream.set_nodelay(true);
        Ok((stream, peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn connect_and_accept_on_loopback() -> Result<()> {
        let acceptor = TcpAcceptor::bind("127.0.0.1", 0).await?;
        let port = acceptor.local_addr()?.port();
        assert_ne!(port, 0);
        let client = tokio::spawn(async move {
            let mut s = connect("127.0.0.1", port).await?;
            s.write_all(b"IceP")
                .await
                .map_err(|e| RuntimeError::io("write", e))?;
            Ok::<_, RuntimeError>(())
        });
        let (mut server, _) = acceptor.accept().await?;
        let mut buf = [0u8; 4];
        server
            .read_exact(&mut buf)
            .await
            .map_err(|e| RuntimeError::io("read", e))?;
        assert_eq!(&buf, b"IceP");
        client.await.map_err(|_| RuntimeError::ConnectionLost)??;
        Ok(())
    }

    /// The sizes of a stream's socket (Linux reports twice what was set).
    fn sizes_of(stream: TcpStream) -> (u32, u32) {
        let socket = stream
            .into_std()
            .map(TcpSocket::from_std_stream)
            .expect("a std stream");
        (
            socket.recv_buffer_size().unwrap_or(0),
            socket.send_buffer_size().unwrap_or(0),
        )
    }

    #[test]
    fn buffer_sizes_come_from_the_ice_tcp_properties() {
        let p = Properties::new()
            .with("Ice.TCP.RcvSize", "65536")
            .with("Ice.TCP.SndSize", "0");
        assert_eq!(
            BufferSizes::from_properties(&p),
            BufferSizes {
                rcv: Some(65536),
                snd: None
            }
        );
        let p = Properties::new().with("Ice.TCP.SndSize", "-3");
        assert!(BufferSizes::from_properties(&p).is_default());
        assert!(BufferSizes::from_properties(&Properties::new()).is_default());
    }

    /// Sizes set on the acceptor reach the accepted socket, sizes set on
    /// the connecting side reach its socket; unset ones stay the system's.
    #[tokio::test]
    async fn buffer_sizes_reach_both_sockets() -> Result<()> {
        let small = BufferSizes {
            rcv: Some(32 * 1024),
            snd: Some(48 * 1024),
        };
        let acceptor = TcpAcceptor::bind_with("127.0.0.1", 0, small, DEFAULT_BACKLOG).await?;
        let port = acceptor.local_addr()?.port();
        let client = connect_with("127.0.0.1", port, small).await?;
        let (server, _) = acceptor.accept().await?;
        for (rcv, snd) in [sizes_of(client), sizes_of(server)] {
            // Linux doubles the value set; other systems may round it.
            assert!((32 * 1024..=64 * 1024).contains(&rcv), "rcv {rcv}");
            assert!((48 * 1024..=96 * 1024).contains(&snd), "snd {snd}");
        }
        // Without sizes: the system's default, not what was set above.
        let plain = TcpAcceptor::bind_with("127.0.0.1", 0, BufferSizes::default(), 16).await?;
        let port = plain.local_addr()?.port();
        let client = connect_with("127.0.0.1", port, BufferSizes::default()).await?;
        let (rcv, _) = sizes_of(client);
        assert_ne!(rcv, 64 * 1024);
        drop(plain.accept().await?);
        Ok(())
    }

    #[tokio::test]
    async fn connect_refused_is_an_io_error() -> Result<()> {
        let acceptor = TcpAcceptor::bind("127.0.0.1", 0).await?;
        let port = acceptor.local_addr()?.port();
        drop(acceptor);
        assert!(matches!(
            connect("127.0.0.1", port).await,
            Err(RuntimeError::Io { op: "connect", .. })
        ));
        Ok(())
    }
}
