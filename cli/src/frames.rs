//! The stdin / stdout formats: lines with a frame delimiter, or raw length-prefixed
//! frames.
//!
//! Raw format, per frame: one flag byte (1 = more frames of this message follow, 0 =
//! last frame), the frame length as 4 bytes big-endian, the frame's bytes.

use std::io::{self, BufRead, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, TryRecvError};
use std::time::Duration;

use ringmq_proactor::Proactor;

/// How messages are written and read.
#[derive(Clone, Debug)]
pub enum Format {
    /// One message per line, frames separated by the delimiter.
    Lines(Vec<u8>),
    /// Length-prefixed frames.
    Raw,
}

/// One item from stdin.
#[derive(Debug)]
pub enum Input {
    /// A message (its frames).
    Msg(Vec<Vec<u8>>),
    /// stdin ended.
    Eof,
    /// stdin could not be read or was malformed (raw format).
    Error(String),
}

/// Reads stdin on a thread (blocking reads cannot run on the proactor); the async
/// side polls the channel.
pub struct StdinReader {
    rx: Receiver<Input>,
    done: bool,
}

impl StdinReader {
    /// Starts the reader thread.
    pub fn spawn(format: Format) -> StdinReader {
        let (tx, rx) = sync_channel(256);
        std::thread::spawn(move || {
            let stdin = io::stdin();
            let mut input = stdin.lock();
            loop {
                let item = match &format {
                    Format::Lines(delim) => read_line(&mut input, delim),
                    Format::Raw => read_raw(&mut input),
                };
                let last = !matches!(item, Input::Msg(_));
                if tx.send(item).is_err() || last {
                    return;
                }
            }
        });
        StdinReader { rx, done: false }
    }

    /// The next item; [`Input::Eof`] forever after the end.
    pub async fn next<P: Proactor>(&mut self, p: &P) -> Input {
        if self.done {
            return Input::Eof;
        }
        let mut wait = Duration::from_millis(1);
        loop {
            match self.rx.try_recv() {
                Ok(item) => {
                    if !matches!(item, Input::Msg(_)) {
                        self.done = true;
                    }
                    return item;
                }
                Err(TryRecvError::Disconnected) => {
                    self.done = true;
                    return Input::Eof;
                }
                Err(TryRecvError::Empty) => {
                    p.sleep_until(p.now() + wait).await;
                    wait = (wait * 2).min(Duration::from_millis(20));
                }
            }
        }
    }
}

fn read_line(input: &mut impl BufRead, delim: &[u8]) -> Input {
    let mut line = Vec::new();
    match input.read_until(b'\n', &mut line) {
        Ok(0) => Input::Eof,
        Ok(_) => {
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            Input::Msg(split(&line, delim))
        }
        Err(e) => Input::Error(format!("cannot read stdin: {e}")),
    }
}

/// Splits `line` at each `delim` (an empty delimiter: one frame).
pub fn split(line: &[u8], delim: &[u8]) -> Vec<Vec<u8>> {
    if delim.is_empty() {
        return vec![line.to_vec()];
    }
    let mut frames = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.windows(delim.len()).position(|w| w == delim) {
        frames.push(rest[..i].to_vec());
        rest = &rest[i + delim.len()..];
    }
    frames.push(rest.to_vec());
    frames
}

fn read_raw(input: &mut impl Read) -> Input {
    let mut frames = Vec::new();
    loop {
        let mut head = [0u8; 5];
        match read_full(input, &mut head) {
            Ok(0) if frames.is_empty() => return Input::Eof,
            Ok(n) if n < head.len() => {
                return Input::Error("raw input ended inside a frame header".into())
            }
            Ok(_) => {}
            Err(e) => return Input::Error(format!("cannot read stdin: {e}")),
        }
        if head[0] > 1 {
            return Input::Error(format!(
                "raw input: bad flag byte {} (expected 0 or 1)",
                head[0]
            ));
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut frame = Vec::new();
        match input.take(len as u64).read_to_end(&mut frame) {
            Ok(n) if n == len => {}
            Ok(_) => return Input::Error("raw input ended inside a frame".into()),
            Err(e) => return Input::Error(format!("cannot read stdin: {e}")),
        }
        frames.push(frame);
        if head[0] == 0 {
            return Input::Msg(frames);
        }
    }
}

/// Reads until `buf` is full or the input ends; the number of bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Writes one message to stdout in `format` and flushes.
pub fn write_message<'a>(
    format: &Format,
    frames: impl IntoIterator<Item = &'a [u8]>,
) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    encode(format, frames, &mut out)?;
    out.flush()
}

/// Encodes one message in `format`.
pub fn encode<'a>(
    format: &Format,
    frames: impl IntoIterator<Item = &'a [u8]>,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        Format::Lines(delim) => {
            for (i, f) in frames.into_iter().enumerate() {
                if i > 0 {
                    out.write_all(delim)?;
                }
                out.write_all(f)?;
            }
            out.write_all(b"\n")
        }
        Format::Raw => {
            let frames: Vec<&[u8]> = frames.into_iter().collect();
            for (i, f) in frames.iter().enumerate() {
                let more = u8::from(i + 1 < frames.len());
                let len = u32::try_from(f.len())
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "frame over 4 GiB"))?;
                out.write_all(&[more])?;
                out.write_all(&len.to_be_bytes())?;
                out.write_all(f)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_the_delimiter() {
        assert_eq!(split(b"a|b||c", b"|"), vec![&b"a"[..], b"b", b"", b"c"]);
        assert_eq!(split(b"", b"|"), vec![&b""[..]]);
        assert_eq!(split(b"a::b", b"::"), vec![&b"a"[..], b"b"]);
        assert_eq!(split(b"a|b", b""), vec![&b"a|b"[..]]);
    }

    #[test]
    fn raw_round_trips_any_bytes() {
        let frames: Vec<Vec<u8>> = vec![(0..=255).collect(), vec![], b"\n|\0".to_vec()];
        let mut buf = Vec::new();
        encode(&Format::Raw, frames.iter().map(|f| &f[..]), &mut buf).unwrap();
        assert_eq!(&buf[..5], &[1, 0, 0, 1, 0]);
        let mut input = &buf[..];
        match read_raw(&mut input) {
            Input::Msg(got) => assert_eq!(got, frames),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_raw(&mut input), Input::Eof));
        let mut cut = &buf[..buf.len() - 1];
        assert!(matches!(read_raw(&mut cut), Input::Error(_)));
        let mut bad = &[7u8, 0, 0, 0, 0][..];
        assert!(matches!(read_raw(&mut bad), Input::Error(_)));
    }
}
