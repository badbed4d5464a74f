//! One WebSocket as both ends of the bridge use it: text messages, sent at once, read
//! with a short timeout so that one thread can both listen and keep its own clock
//! (heartbeats, the watchdog, the control loop).

use std::net::TcpStream;
use std::time::{Duration, Instant};

use tungstenite::{Message, WebSocket};

/// How long one read waits for a message.
pub const POLL: Duration = Duration::from_millis(2);

/// Why the socket is unusable.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    /// The peer closed it, or the connection broke.
    #[error("the connection closed: {0}")]
    Closed(String),
    /// The WebSocket handshake failed.
    #[error("the WebSocket handshake failed: {0}")]
    Handshake(String),
}

/// A WebSocket over TCP.
pub struct Link {
    ws: WebSocket<TcpStream>,
}

fn would_block(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(io)
        if matches!(io.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut))
}

impl Link {
    /// The client's end: handshake with the server at `url` over `stream`, within
    /// `within`.
    pub fn client(url: &str, stream: TcpStream, within: Duration) -> Result<Self, LinkError> {
        let deadline = Instant::now() + within;
        stream
            .set_read_timeout(Some(POLL))
            .map_err(|e| LinkError::Handshake(e.to_string()))?;
        let mut attempt = tungstenite::client(url, stream);
        loop {
            match attempt {
                Ok((ws, _)) => return Ok(Self { ws }),
                Err(tungstenite::HandshakeError::Interrupted(mid)) if Instant::now() < deadline => {
                    attempt = mid.handshake();
                }
                Err(e) => return Err(LinkError::Handshake(e.to_string())),
            }
        }
    }

    /// The server's end: answer the handshake on an accepted `stream`, within `within`.
    pub fn server(stream: TcpStream, within: Duration) -> Result<Self, LinkError> {
        let deadline = Instant::now() + within;
        stream
            .set_read_timeout(Some(POLL))
            .map_err(|e| LinkError::Handshake(e.to_string()))?;
        let mut attempt = tungstenite::accept(stream);
        loop {
            match attempt {
                Ok(ws) => return Ok(Self { ws }),
                Err(tungstenite::HandshakeError::Interrupted(mid)) if Instant::now() < deadline => {
                    attempt = mid.handshake();
                }
                Err(e) => return Err(LinkError::Handshake(e.to_string())),
            }
        }
    }

    /// Send one text message.
    pub fn send(&mut self, text: String) -> Result<(), LinkError> {
        self.ws
            .send(Message::text(text))
            .map_err(|e| LinkError::Closed(e.to_string()))
    }

    /// The next text message if one arrives within [`POLL`]; `Ok(None)` if none did.
    pub fn poll(&mut self) -> Result<Option<String>, LinkError> {
        match self.ws.read() {
            Ok(Message::Text(t)) => Ok(Some(t.as_str().to_owned())),
            Ok(Message::Close(_)) => Err(LinkError::Closed("closed by the peer".into())),
            Ok(_) => Ok(None),
            Err(e) if would_block(&e) => {
                // A frame may be half written; flush what we queued.
                match self.ws.flush() {
                    Ok(()) => Ok(None),
                    Err(e) if would_block(&e) => Ok(None),
                    Err(e) => Err(LinkError::Closed(e.to_string())),
                }
            }
            Err(e) => Err(LinkError::Closed(e.to_string())),
        }
    }

    /// Close the connection; whether the close frame went out (the peer may be gone,
    /// and its answer is not awaited).
    pub fn close(&mut self) -> bool {
        self.ws.close(None).and_then(|()| self.ws.flush()).is_ok()
    }
}
