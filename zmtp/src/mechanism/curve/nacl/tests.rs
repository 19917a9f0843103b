//! Known answers from libsodium 1.0.18 (Debian's, called through ctypes) and property
//! tests against RustCrypto's `crypto_secretbox`, an independent implementation.

use proptest::prelude::*;

use super::poly1305::Poly1305;
use super::salsa20::{hsalsa20, Salsa20, WIDE};
use super::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// FNV-1a 64 of the ciphertext: the known answers cover every byte without listing
/// them all.
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn hsalsa20_gives_nacls_firstkey() {
    // NaCl's tests/box.c: the X25519 secret of alice and bob, HSalsa20 with a zero nonce.
    let shared: [u8; 32] =
        unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
            .try_into()
            .expect("32 bytes");
    assert_eq!(
        hsalsa20(&shared, &[0; 16]).to_vec(),
        unhex("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389")
    );
}

/// `crypto_secretbox_detached` with key 0..32, nonce 100..124 and message bytes
/// `(7 i + 3) mod 256`: (length, tag, FNV-1a of the ciphertext).
const SECRETBOX: [(usize, &str, u64); 17] = [
    (0, "f49572d6194281e3c87fbb4e2106932c", 0xcbf29ce484222325),
    (1, "5c7befd74364db52540bb64387ced808", 0xaf63bc4c8601b62c),
    (31, "cb5df503cff4ee4f3bac78baa06c6a2c", 0x8dfe0e2cf650e6c8),
    (32, "9f0544bd221362ea1c83e313bed121e9", 0x9798b2668b77db14),
    (33, "c2ea033c9373d8c2ab4b8c20e8a9a4b1", 0x1052833efca9c26d),
    (63, "704a154588c50774536379f686c0f721", 0xd1d6c6ed1335d7aa),
    (64, "1b9eadc717c0630430bb48a27b488580", 0xc5cb76d7a47d16b6),
    (65, "a2a66489445243db467dee0a4938c9fa", 0x95d1266c808cbdc2),
    (100, "f3cc47aac163d23db55013aba639b65c", 0x3858fcadffc5e0d0),
    (255, "575d34d15af85139cf9aec28c628decb", 0xb75e30f651616bfe),
    (256, "cdfe9b7e65468562f26bd300ae2bb998", 0xf678d28c4889e0e0),
    (257, "cac99becedac8db5b0db23053e7c920d", 0x592e625f4248ac7a),
    (288, "4871e33b8184d56b764606138b918b04", 0xd618f1af43517819),
    (289, "e4ac8d2355056fed535191043ace434a", 0x1ddb4fcf636ffcf9),
    (1000, "92a147e8ec8aa6db12e0991fa13fb26b", 0xb0a01dc3b296b401),
    (4103, "e9089410279fd605972399e71f0495f5", 0x9d149af57aef8f39),
    (
        65536,
        "400ec06532460404e1f5e5cbf625347a",
        0x45fa4eb33941039f,
    ),
];

fn kat_message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn secretbox_matches_libsodium() {
    let key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let nonce: [u8; 24] = std::array::from_fn(|i| 100 + i as u8);
    let b = SecretBox::new(&key);
    let mut prefix = [0u8; 16];
    prefix.copy_from_slice(&nonce[..16]);
    let counter = u64::from_be_bytes(nonce[16..].try_into().expect("8 bytes"));
    let p = PrefixBox::new(&key, &prefix);
    for (len, tag, sum) in SECRETBOX {
        let plain = kat_message(len);
        let mut buf = plain.clone();
        let t = b.seal_in_place(&nonce, &mut buf);
        assert_eq!(t.to_vec(), unhex(tag), "tag, {len} bytes");
        assert_eq!(fnv(&buf), sum, "ciphertext, {len} bytes");
        let mut same = plain.clone();
        assert_eq!(
            p.seal_in_place(counter, &mut same),
            t,
            "prefix box, {len} bytes"
        );
        assert_eq!(same, buf);
        assert!(b.open_in_place(&nonce, &mut buf, &t));
        assert_eq!(buf, plain);
    }
}

#[test]
fn poly1305_rfc8439_vector() {
    // RFC 8439 section 2.5.2.
    let key: [u8; 32] = unhex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b")
        .try_into()
        .expect("32 bytes");
    assert_eq!(
        Poly1305::new(&key)
            .mac(b"Cryptographic Forum Research Group")
            .to_vec(),
        unhex("a8061dc1305136c6c22b8baf0c0127a9")
    );
}

#[test]
fn poly1305_extreme_values_match_rustcrypto() {
    use ::poly1305::universal_hash::KeyInit;
    // All-ones keys and messages push every limb and carry to its bound; lengths cover
    // the two-block steps, a single leftover block and a partial block.
    for key in [
        [0xff; 32],
        [0; 32],
        std::array::from_fn(|i| if i < 16 { 0xff } else { 0 }),
    ] {
        for fill in [0xff, 0x00, 0xfe] {
            for len in [0, 1, 15, 16, 17, 31, 32, 33, 48, 64, 1000] {
                let msg = vec![fill; len];
                let ours = Poly1305::new(&key).mac(&msg);
                let theirs: [u8; 16] = ::poly1305::Poly1305::new((&key).into())
                    .compute_unpadded(&msg)
                    .into();
                assert_eq!(
                    ours, theirs,
                    "key {:02x}.., fill {fill:02x}, {len} bytes",
                    key[0]
                );
            }
        }
    }
}

#[test]
fn salsa20_counter_carries_into_the_high_word() {
    // crypto_stream_salsa20_xor_ic(zeros, 512 bytes, nonce 0..8, ic 0xFFFFFFFE, key 0..32)
    let key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let s = Salsa20::new(&key, &std::array::from_fn(|i| i as u8));
    let mut ks = vec![0u8; 512];
    s.xor(0xFFFF_FFFE, &mut ks);
    assert_eq!(
        ks[..64].to_vec(),
        unhex(
            "395110746024e95f13a2166b3371212e20fc85715ef36a7d22611b6d4d5e9426421083c539a910ee1\
             3eb2b598016c287f23728a18cb5cedee9e977aa9884788d"
        )
    );
    assert_eq!(
        ks[128..192].to_vec(),
        unhex(
            "e58a3ce12a19d89b151819eec0956ae8b8ba7df7d537480a39b6678cbbda10f3f095aa1bc8e860392\
             de7b267fb1245d1ff12efd12887cd1c797ea18bb7261e74"
        )
    );
    assert_eq!(fnv(&ks), 0x6d34cb49c824f1ea);
}

#[test]
fn tampering_is_detected_and_leaves_the_box() {
    let b = SecretBox::new(&[9; 32]);
    let nonce = [4u8; 24];
    let mut boxed = b"attack at dawn, bring snacks".to_vec();
    let tag = b.seal_in_place(&nonce, &mut boxed);
    for i in 0..boxed.len() {
        let mut t = boxed.clone();
        t[i] ^= 0x20;
        let before = t.clone();
        assert!(!b.open_in_place(&nonce, &mut t, &tag), "flip at {i}");
        assert_eq!(t, before, "a box that does not open is left as it was");
    }
    for i in 0..TAG_LEN {
        let mut bad = tag;
        bad[i] ^= 1;
        assert!(!b.open_in_place(&nonce, &mut boxed.clone(), &bad));
    }
    assert!(!b.open_in_place(&[5; 24], &mut boxed.clone(), &tag));
    assert!(b.open_in_place(&nonce, &mut boxed, &tag));
}

fn reference_seal(key: &[u8; 32], nonce: &[u8; 24], msg: &[u8]) -> ([u8; 16], Vec<u8>) {
    use crypto_secretbox::aead::AeadInPlace;
    use crypto_secretbox::KeyInit;
    let mut buf = msg.to_vec();
    let tag = crypto_secretbox::XSalsa20Poly1305::new(key.into())
        .encrypt_in_place_detached(nonce.into(), b"", &mut buf)
        .expect("no associated data");
    (tag.into(), buf)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn seal_and_open_match_rustcrypto(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        msg in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            prop::collection::vec(any::<u8>(), 300..3000),
        ],
    ) {
        let (tag, ct) = reference_seal(&key, &nonce, &msg);
        let mut buf = msg.clone();
        prop_assert_eq!(SecretBox::new(&key).seal_in_place(&nonce, &mut buf), tag);
        prop_assert_eq!(&buf, &ct);
        let mut prefix = [0u8; 16];
        prefix.copy_from_slice(&nonce[..16]);
        let counter = u64::from_be_bytes(nonce[16..].try_into().expect("8 bytes"));
        let p = PrefixBox::new(&key, &prefix);
        let mut same = msg.clone();
        prop_assert_eq!(p.seal_in_place(counter, &mut same), tag);
        prop_assert_eq!(&same, &ct);
        prop_assert!(p.open_in_place(counter, &mut same, &tag));
        prop_assert_eq!(&same, &msg);
    }

    #[test]
    fn keystream_is_the_same_with_and_without_the_avx2_kernel(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 8]>(),
        counter in prop_oneof![any::<u64>(), (0xFFFF_FFF0u64..0x1_0000_0010)],
        data in prop::collection::vec(any::<u8>(), 0..3000),
    ) {
        let s = Salsa20::new(&key, &nonce);
        let mut without = data.clone();
        s.xor_with(None, counter, &mut without);
        let mut with = data;
        s.xor(counter, &mut with);
        prop_assert_eq!(with, without);
    }

    #[test]
    fn simd_keystream_equals_scalar_blocks(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 8]>(),
        counter in prop_oneof![any::<u64>(), (0xFFFF_FFF0u64..0x1_0000_0010)],
    ) {
        let s = Salsa20::new(&key, &nonce);
        if let Some(kernel) = super::salsa20::kernel_x8() {
            let mut eight = s.wide_scalar(counter).to_vec();
            eight.extend_from_slice(&s.wide_scalar(counter.wrapping_add(4)));
            prop_assert_eq!(s.wide_x8(kernel, counter).to_vec(), eight);
        }
        let wide: [u8; WIDE] = s.wide(counter);
        prop_assert_eq!(wide.to_vec(), s.wide_scalar(counter).to_vec());
        prop_assert_eq!(s.block(counter).to_vec(), s.block_scalar(counter).to_vec());
        let mut two = s.block_scalar(counter).to_vec();
        two.extend_from_slice(&s.block_scalar(counter.wrapping_add(1)));
        prop_assert_eq!(s.pair(counter).to_vec(), two);
    }
}
