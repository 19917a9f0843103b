//! Small helpers: Ctrl-C, racing futures, hex.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ringmq_proactor::Proactor;

use crate::Failure;

/// How often the flags (Ctrl-C, stdin) are looked at while waiting.
pub const TICK: Duration = Duration::from_millis(10);

/// Set by SIGINT.
#[derive(Clone, Debug)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    /// True once SIGINT arrived.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Completes once SIGINT arrived.
    pub async fn wait<P: Proactor>(&self, p: &P) {
        while !self.is_set() {
            p.sleep_until(p.now() + TICK).await;
        }
    }
}

/// Installs the SIGINT handler: the first SIGINT sets the flag (the program then
/// closes its sockets, lingering), a second one exits at once with code 130.
pub fn install_sigint() -> Result<Interrupt, Failure> {
    use signal_hook::consts::SIGINT;
    let flag = Arc::new(AtomicBool::new(false));
    let fail = |e: std::io::Error| Failure::new(format!("cannot install the SIGINT handler: {e}"));
    // Order matters: the conditional exit runs first and sees the flag of the previous
    // SIGINT.
    signal_hook::flag::register_conditional_shutdown(SIGINT, 130, flag.clone()).map_err(fail)?;
    signal_hook::flag::register(SIGINT, flag.clone()).map_err(fail)?;
    Ok(Interrupt(flag))
}

/// A boxed future, for [`race`].
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The output of the first of `futs` to complete (earlier ones win ties); the others
/// are dropped.
pub async fn race<T>(mut futs: Vec<BoxFut<'_, T>>) -> T {
    std::future::poll_fn(|cx| {
        for f in futs.iter_mut() {
            if let Poll::Ready(v) = f.as_mut().poll(cx) {
                return Poll::Ready(v);
            }
        }
        Poll::Pending
    })
    .await
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Decodes hex (either case); `None` when malformed.
pub fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let data = [0u8, 1, 0x7f, 0x80, 0xff, b'a'];
        assert_eq!(hex(&data), "00017f80ff61");
        assert_eq!(unhex(b"00017F80ff61").as_deref(), Some(&data[..]));
        assert_eq!(unhex(b"0"), None);
        assert_eq!(unhex(b"zz"), None);
    }
}
