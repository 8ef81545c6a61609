//! A small blocking RESP2 client with pipelining, for `synap-admin`. Requests are encoded by
//! [`encode`] into a caller's buffer; replies are read one at a time from a reused buffer and
//! decoded with [`crate::protocol::read::decode`], so a pipeline of many large replies never
//! needs more memory than its largest reply.

use super::Connect;
use crate::protocol::read::{decode, skip, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests larger than this are written by a helper thread while replies are read, so that
/// neither side can block the other on full socket buffers.
const INLINE_WRITE: usize = 128 * 1024;

/// A read buffer grown past this by a huge reply is shrunk again once it is consumed.
const MAX_KEPT: usize = 4 * 1024 * 1024;

/// Appends one command in RESP (array of bulk strings) to `out`.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    header(out, args.len());
    for a in args {
        bulk(out, a);
    }
}

/// Appends an array header `*n`.
pub fn header(out: &mut Vec<u8>, n: usize) {
    out.push(b'*');
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends one bulk string.
pub fn bulk(out: &mut Vec<u8>, a: &[u8]) {
    out.push(b'$');
    out.extend_from_slice(itoa::Buffer::new().format(a.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(a);
    out.extend_from_slice(b"\r\n");
}

/// One connection to a server.
pub struct Client {
    stream: TcpStream,
    addr: String,
    buf: Vec<u8>,
    /// Start of the first unread byte in `buf`.
    at: usize,
}

impl Client {
    /// Connects, and authenticates with `AUTH <key>` when an API key is given.
    pub fn connect(c: &Connect) -> Result<Client, String> {
        let addr = format!("{}:{}", c.host, c.port);
        let stream =
            connect(&c.host, c.port).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = stream.set_nodelay(true);
        let mut client = Client {
            stream,
            addr,
            buf: Vec::with_capacity(256 * 1024),
            at: 0,
        };
        if let Some(key) = &c.api_key {
            match client.call(&[b"AUTH", key.as_bytes()])? {
                Value::Simple(_) => {}
                Value::Error(e) => return Err(format!("{}: AUTH failed: {e}", client.addr)),
                other => return Err(format!("{}: AUTH: unexpected reply {other:?}", client.addr)),
            }
        }
        Ok(client)
    }

    /// `host:port`, for messages.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends one command and returns its reply (an error reply is a `Value::Error`).
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Value, String> {
        let mut req = Vec::new();
        encode(&mut req, args);
        self.send(&req)?;
        self.read()
    }

    fn send(&mut self, req: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(req)
            .map_err(|e| format!("{}: write: {e}", self.addr))
    }

    /// Reads the next reply.
    pub fn read(&mut self) -> Result<Value, String> {
        loop {
            if let Some(end) = skip(&self.buf, self.at).filter(|&e| e <= self.buf.len()) {
                let Some((v, end2)) = decode(&self.buf, self.at) else {
                    return Err(format!("{}: malformed reply from the server", self.addr));
                };
                debug_assert_eq!(end, end2);
                self.at = end;
                if self.at == self.buf.len() {
                    self.buf.clear();
                    self.at = 0;
                    if self.buf.capacity() > MAX_KEPT {
                        self.buf.shrink_to(256 * 1024); // after one huge reply
                    }
                }
                return Ok(v);
            }
            self.fill()?;
        }
    }

    /// Reads more bytes into the buffer (dropping consumed ones first when that frees a lot).
    fn fill(&mut self) -> Result<(), String> {
        if self.at > 0 && self.at >= self.buf.len() / 2 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        let len = self.buf.len();
        let want = (self.buf.capacity() - len).clamp(64 * 1024, 1024 * 1024);
        self.buf.resize(len + want, 0);
        let n = loop {
            match self.stream.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        self.buf.truncate(len + n.as_ref().copied().unwrap_or(0));
        match n {
            Ok(0) => Err(format!("{}: the server closed the connection", self.addr)),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{}: read: {e}", self.addr)),
        }
    }

    /// Sends `req`, which holds `n` commands, and hands each of the `n` replies to `each` in
    /// order (index, reply). Every reply is read even when `each` records a failure, so the
    /// connection stays in step. Large requests are written by a helper thread while the
    /// replies are read.
    pub fn pipeline(
        &mut self,
        req: &[u8],
        n: usize,
        mut each: impl FnMut(usize, Value),
    ) -> Result<(), String> {
        if req.len() <= INLINE_WRITE {
            self.send(req)?;
            for i in 0..n {
                each(i, self.read()?);
            }
            return Ok(());
        }
        let mut writer = self
            .stream
            .try_clone()
            .map_err(|e| format!("{}: {e}", self.addr))?;
        let addr = self.addr.clone();
        std::thread::scope(|s| {
            let w = s.spawn(move || writer.write_all(req));
            let mut result = Ok(());
            for i in 0..n {
                match self.read() {
                    Ok(v) => each(i, v),
                    Err(e) => {
                        // Unblock the writer before waiting for it.
                        let _ = self.stream.shutdown(Shutdown::Both);
                        result = Err(e);
                        break;
                    }
                }
            }
            match w.join() {
                Ok(Ok(())) => result,
                Ok(Err(e)) => result.and(Err(format!("{addr}: write: {e}"))),
                Err(_) => result.and(Err(format!("{addr}: writer thread panicked"))),
            }
        })
    }
}

/// Connects to the first address of `host` that answers within [`CONNECT_TIMEOUT`].
fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let mut last = None;
    for a in (host, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "no address for the host")
    }))
}

/// The text of a simple or bulk string reply.
pub fn text(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Simple(s) => Some(s.as_bytes()),
        Value::Bulk(b) => Some(b),
        _ => None,
    }
}
