#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ringmq_zmtp::fuzzing::fuzz_session_server(2, data);
});
