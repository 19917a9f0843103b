#![no_main]

//! Decoding arbitrary text must not panic; encoding then decoding is the identity.

use libfuzzer_sys::fuzz_target;
use ringmq_zmtp::z85;

fuzz_target!(|data: &[u8]| {
    let _ = z85::decode(&String::from_utf8_lossy(data));
    let whole = &data[..data.len() / 4 * 4];
    let text = z85::encode(whole).expect("length is a multiple of 4");
    assert_eq!(text.len(), whole.len() / 4 * 5);
    assert_eq!(z85::decode(&text).expect("own output decodes"), whole);
});
