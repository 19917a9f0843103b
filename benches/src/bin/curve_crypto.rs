//! XSalsa20-Poly1305, the primitive under every CURVE MESSAGE, alone (issue 17):
//! seal and open in place at 64 B, 1 KiB and 64 KiB, for the Rust implementations and
//! for libsodium (`c/sodium_bench.c`, compiled here against the system libsodium) in the
//! same run, with ratios.
//!
//! ```text
//! cargo run --release -p ringmq-bench --bin curve_crypto [-- --repeats N --ms M --size S]
//! cargo run --release -p ringmq-bench --bin curve_crypto -- --only NAME ...   # for perf
//! ```
//!
//! Each repeat times every implementation once per size and operation (a loop of at
//! least M ms, 200 by default; the count doubles until it lasts that long), libsodium in
//! a child process right after the Rust ones. The table shows the median over the
//! repeats of the time per call and of the ratio to libsodium within each repeat.
//! Opening times include a copy of the box into the buffer first (the box must be
//! fresh each time), on both sides alike.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use crypto_box::aead::AeadInPlace;

const SIZES: [usize; 3] = [64, 1024, 65536];

type Res<T> = Result<T, String>;

/// Seals `buf` in place under a nonce; returns the tag.
type Seal = Box<dyn Fn(&[u8; 24], &mut [u8]) -> [u8; 16]>;
/// Checks the tag and opens `buf` in place.
type Open = Box<dyn Fn(&[u8; 24], &mut [u8], &[u8; 16]) -> bool>;

/// One implementation.
struct Impl {
    name: &'static str,
    seal: Seal,
    open: Open,
}

fn rustcrypto() -> Impl {
    let a = crypto_box::SecretKey::from_bytes([1; 32]);
    let b = crypto_box::SecretKey::from_bytes([2; 32]);
    let k = std::rc::Rc::new(crypto_box::SalsaBox::new(&b.public_key(), &a));
    let k2 = k.clone();
    Impl {
        name: "RustCrypto crypto_box 0.9 (SalsaBox)",
        seal: Box::new(move |n, buf| {
            k.encrypt_in_place_detached(n.into(), b"", buf)
                .expect("no associated data")
                .into()
        }),
        open: Box::new(move |n, buf, tag| {
            k2.decrypt_in_place_detached(n.into(), b"", buf, tag.into())
                .is_ok()
        }),
    }
}

fn ringmq() -> Impl {
    use ringmq_zmtp::mechanism::curve::nacl::SecretBox;
    let k = std::rc::Rc::new(SecretBox::new(&[3; 32]));
    let k2 = k.clone();
    Impl {
        name: "ringmq SecretBox",
        seal: Box::new(move |n, buf| k.seal_in_place(n, buf)),
        open: Box::new(move |n, buf, tag| k2.open_in_place(n, buf, tag)),
    }
}

fn ringmq_prefix() -> Impl {
    use ringmq_zmtp::mechanism::curve::nacl::PrefixBox;
    let k = std::rc::Rc::new(PrefixBox::new(&[3; 32], b"CurveZMQMESSAGEC"));
    let k2 = k.clone();
    let counter = |n: &[u8; 24]| u64::from_be_bytes(n[16..].try_into().expect("8 bytes"));
    Impl {
        name: "ringmq PrefixBox",
        seal: Box::new(move |n, buf| k.seal_in_place(counter(n), buf)),
        open: Box::new(move |n, buf, tag| k2.open_in_place(counter(n), buf, tag)),
    }
}

/// Mean ns per call of `f` over a loop of at least `min_ms`.
fn time(min_ms: f64, mut f: impl FnMut(u64)) -> f64 {
    let mut n = 1u64;
    loop {
        let start = Instant::now();
        for i in 0..n {
            f(i);
        }
        let t = start.elapsed().as_secs_f64() * 1e9;
        if t >= min_ms * 1e6 {
            return t / n as f64;
        }
        n *= 2;
    }
}

fn measure(imp: &Impl, size: usize, min_ms: f64) -> (f64, f64) {
    let mut buf = vec![0xA5u8; size];
    let mut nonce = [7u8; 24];
    let seal = time(min_ms, |i| {
        nonce[16..].copy_from_slice(&i.to_be_bytes());
        black_box((imp.seal)(&nonce, &mut buf));
    });
    let plain = vec![0x5Au8; size];
    let mut boxed = plain.clone();
    let tag = (imp.seal)(&nonce, &mut boxed);
    let open = time(min_ms, |_| {
        buf.copy_from_slice(&boxed);
        assert!((imp.open)(&nonce, &mut buf, &tag), "box opens");
    });
    assert_eq!(buf, plain, "{} opened to the plaintext", imp.name);
    (seal, open)
}

fn sodium(prog: &std::path::Path, min_ms: f64, sizes: &[usize]) -> Res<Vec<(String, f64)>> {
    let out = Command::new(prog)
        .arg(min_ms.to_string())
        .args(sizes.iter().map(|s| s.to_string()))
        .output()
        .map_err(|e| format!("run {}: {e}", prog.display()))?;
    if !out.status.success() {
        return Err(format!(
            "sodium_bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| {
            let (key, rest) = l.split_once(':')?;
            let v = rest.trim().strip_suffix("[ns]")?.trim().parse().ok()?;
            Some((key.to_string(), v))
        })
        .collect())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("curve_crypto: {e}");
        std::process::exit(1);
    }
}

fn real_main() -> Res<()> {
    let mut repeats = 5usize;
    let mut min_ms = 200.0;
    let mut sizes = SIZES.to_vec();
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<f64>().ok());
        match a.as_str() {
            "--repeats" => repeats = value().ok_or("--repeats needs a number")? as usize,
            "--ms" => min_ms = value().ok_or("--ms needs a number")?,
            "--size" => sizes = vec![value().ok_or("--size needs a number")? as usize],
            "--only" => only = Some(args.next().ok_or("--only needs a name")?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = exe.parent().ok_or("no exe dir")?.join("c-tools");
    let prog = ringmq_bench::build_sodium_bench(&dir)?;
    let mut impls = vec![rustcrypto(), ringmq(), ringmq_prefix()];
    if let Some(name) = &only {
        // Profiling one implementation: no libsodium, no table.
        impls.retain(|i| i.name.contains(name.as_str()));
        for imp in &impls {
            for _ in 0..repeats {
                for &size in &sizes {
                    let (s, o) = measure(imp, size, min_ms);
                    println!("{} {size}: seal {s:.0} ns, open {o:.0} ns", imp.name);
                }
            }
        }
        return Ok(());
    }
    // (op size, implementation) -> per-repeat ns
    let mut samples: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for rep in 0..repeats {
        eprintln!("repeat {}/{repeats}", rep + 1);
        for imp in &impls {
            for &size in &sizes {
                let (s, o) = measure(imp, size, min_ms);
                samples
                    .entry((format!("seal {size}"), imp.name.into()))
                    .or_default()
                    .push(s);
                samples
                    .entry((format!("open {size}"), imp.name.into()))
                    .or_default()
                    .push(o);
            }
        }
        for (key, v) in sodium(&prog, min_ms, &sizes)? {
            samples
                .entry((key, "libsodium".into()))
                .or_default()
                .push(v);
        }
    }
    println!(
        "XSalsa20-Poly1305 on a precomputed key, ns per call (median of {repeats}; ratio = \
         time / libsodium's in the same repeat, lower is better)\n"
    );
    println!(
        "| operation | libsodium | {} |",
        impls.iter().map(|i| i.name).collect::<Vec<_>>().join(" | ")
    );
    println!("|---|---:|{}", "---:|".repeat(impls.len()));
    for op in ["seal", "open"] {
        for &size in &sizes {
            let key = format!("{op} {size}");
            let base = samples
                .get(&(key.clone(), "libsodium".into()))
                .ok_or_else(|| format!("libsodium printed no `{key}`"))?;
            let mut row = format!(
                "| {op} {} | {:.0} |",
                fmt_size(size),
                median(&mut base.clone())
            );
            for imp in &impls {
                let v = &samples[&(key.clone(), imp.name.to_string())];
                let mut ratios: Vec<f64> = v.iter().zip(base).map(|(a, b)| a / b).collect();
                row.push_str(&format!(
                    " {:.0} ({:.2}x) |",
                    median(&mut v.clone()),
                    median(&mut ratios)
                ));
            }
            println!("{row}");
        }
    }
    Ok(())
}

fn fmt_size(size: usize) -> String {
    if size >= 1024 {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}
