#![no_main]

//! A DEALER client session fed the bytes of its server; the first byte picks the
//! mechanism (0 NULL, 1 PLAIN, 2 CURVE, modulo 3).

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&mechanism, rest)) = data.split_first() {
        let _ = ringmq_zmtp::fuzzing::fuzz_session_client(mechanism, rest);
    }
});
