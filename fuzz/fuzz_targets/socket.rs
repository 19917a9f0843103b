#![no_main]

//! A whole socket of each type (the first byte picks it) whose peers send arbitrary
//! bytes and well-formed traffic; see `ringmq_sockets::fuzzing`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ringmq_sockets::fuzzing::fuzz_socket(data);
});
