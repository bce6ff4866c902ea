//! TCP transport on tokio: connecting and accepting.
//!
//! This module only opens sockets; everything that happens on them (the
//! validation handshake, framing, request ids) is the `connection` layer's
//! job. SSL and WebSocket transports would sit beside TCP here.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

use crate::runtime_error::{Result, RuntimeError};

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

/// A listening TCP socket.
#[derive(Debug)]
pub struct TcpAcceptor {
    listener: TcpListener,
}

impl TcpAcceptor {
    /// Binds to `host:port`; port 0 picks a free port (see
    /// [`TcpAcceptor::local_addr`]).
    ///
    /// # Errors
    /// [`RuntimeError::Io`] when the address cannot be bound.
    pub async fn bind(host: &str, port: u16) -> Result<Self> {
        let host = if host.is_empty() { "0.0.0.0" } else { host };
        let listener = TcpListener::bind((host, port))
            .await
            .map_err(|e| RuntimeError::io("bind", e))?;
        Ok(Self { listener })
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
