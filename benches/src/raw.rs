//! The physical reference: the perf tools' measurements on blocking `std` sockets
//! (TCP with `TCP_NODELAY`, or Unix stream sockets for `ipc://` endpoints), printing
//! the same lines as the perf tools.
//!
//! Latency is a ping-pong of `size` bytes. Throughput streams records framed by a
//! 4-byte length through 256 KiB buffered writers/readers (the receiver checks every
//! length), then the sender shuts its side down and waits for the receiver to close.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Instant;

use crate::tools::{print_lat, print_thr};

const BUF: usize = 256 * 1024;

/// A connected TCP or Unix stream.
#[derive(Debug)]
pub enum Conn {
    /// TCP.
    Tcp(TcpStream),
    /// Unix domain stream.
    Unix(UnixStream),
}

impl Conn {
    fn try_clone(&self) -> io::Result<Conn> {
        Ok(match self {
            Conn::Tcp(s) => Conn::Tcp(s.try_clone()?),
            Conn::Unix(s) => Conn::Unix(s.try_clone()?),
        })
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Conn::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Binds `tcp://host:port` or `ipc://path` and accepts one connection.
pub fn accept_one(ep: &str) -> io::Result<Conn> {
    if let Some(addr) = ep.strip_prefix("tcp://") {
        let l = TcpListener::bind(addr)?;
        let (s, _) = l.accept()?;
        s.set_nodelay(true)?;
        Ok(Conn::Tcp(s))
    } else if let Some(path) = ep.strip_prefix("ipc://") {
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path)?;
        let (s, _) = l.accept()?;
        let _ = std::fs::remove_file(path);
        Ok(Conn::Unix(s))
    } else {
        Err(bad(format!("unsupported endpoint {ep}")))
    }
}

/// Connects to `tcp://host:port` or `ipc://path`.
pub fn connect(ep: &str) -> io::Result<Conn> {
    if let Some(addr) = ep.strip_prefix("tcp://") {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(Conn::Tcp(s))
    } else if let Some(path) = ep.strip_prefix("ipc://") {
        Ok(Conn::Unix(UnixStream::connect(path)?))
    } else {
        Err(bad(format!("unsupported endpoint {ep}")))
    }
}

/// Echoes `rounds` messages of `size` bytes.
pub fn local_lat(ep: &str, size: usize, rounds: u64) -> io::Result<()> {
    let mut c = accept_one(ep)?;
    let mut buf = vec![0u8; size];
    for _ in 0..rounds {
        c.read_exact(&mut buf)?;
        c.write_all(&buf)?;
    }
    Ok(())
}

/// `rounds` ping-pongs of `size` bytes; prints the perf-tool lines.
pub fn remote_lat(ep: &str, size: usize, rounds: u64) -> io::Result<()> {
    let mut c = connect(ep)?;
    let out = vec![0u8; size];
    let mut buf = vec![0u8; size];
    let start = Instant::now();
    for _ in 0..rounds {
        c.write_all(&out)?;
        c.read_exact(&mut buf)?;
    }
    print_lat(size, rounds, start.elapsed());
    Ok(())
}

/// Receives `count` length-prefixed records of `size` bytes; prints the perf-tool
/// lines (timing from the first record).
pub fn local_thr(ep: &str, size: usize, count: u64) -> io::Result<()> {
    let c = accept_one(ep)?;
    let mut r = BufReader::with_capacity(BUF, c.try_clone()?);
    let mut buf = vec![0u8; size];
    let mut start = Instant::now();
    for i in 0..count {
        let mut len = [0u8; 4];
        r.read_exact(&mut len)?;
        if u32::from_be_bytes(len) as usize != size {
            return Err(bad(format!("record {i} has the wrong length")));
        }
        r.read_exact(&mut buf)?;
        if i == 0 {
            start = Instant::now();
        }
    }
    print_thr(size, count, start.elapsed());
    drop(c);
    Ok(())
}

/// Sends `count` length-prefixed records of `size` bytes, then waits for the
/// receiver to close.
pub fn remote_thr(ep: &str, size: usize, count: u64) -> io::Result<()> {
    let c = connect(ep)?;
    let mut w = BufWriter::with_capacity(BUF, c.try_clone()?);
    let data = vec![0u8; size];
    let len = (size as u32).to_be_bytes();
    for _ in 0..count {
        w.write_all(&len)?;
        w.write_all(&data)?;
    }
    w.flush()?;
    drop(w);
    c.shutdown_write()?;
    let mut rest = Vec::new();
    let mut c = c;
    c.read_to_end(&mut rest)?;
    Ok(())
}
