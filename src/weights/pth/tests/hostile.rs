//! Hostile and corrupt input: every failure must be a clean error, never a panic, a hang or a
//! huge allocation.

use super::writers::{
    archive_of_pickle, archive_with, entries_of, one_tensor_pickle, unicode, zip_of,
};
use super::{assert_error, error_of, fixture, floats, read_pth, reference};

#[test]
fn hostile_pickles_fail_cleanly() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "truncated pickle"),
        (b"X\xff\xff\xff\xff", "truncated pickle"),
        (b"\x8d\xff\xff\xff\xff\xff\xff\xff\x7f", "truncated pickle"),
        (
            b"\x8a\x09\x01\x02\x03\x04\x05\x06\x07\x08\x09.",
            "does not fit in 64 bits",
        ),
        (b"h\x05.", "memo entry 5 was never set"),
        (b"t.", "no MARK"),
        (b"(0.", "stack underflow"),
        (b"K\x01(s.", "stack underflow"),
        (b"K\x01K\x02K\x03s.", "SETITEM on an int"),
        (b"\x80\x06.", "protocol 6"),
        (b"cos\nsystem", "truncated GLOBAL"),
        (b"N)R.", "REDUCE calls None"),
        (b"]K\x01b.", "BUILD on a list"),
        (b"K\x01Q.", "persistent id"),
    ];
    for (body, expected) in cases {
        assert_error(&archive_of_pickle(body), &[expected]);
    }
    // Deep nesting must be refused before it can overflow the stack on drop.
    let mut deep = b")".to_vec();
    deep.extend(std::iter::repeat_n(0x85u8, 100_000));
    deep.push(b'.');
    assert_error(&archive_of_pickle(&deep), &["nested deeper than 32"]);
    // Memo indices are keys, not vector positions: u32::MAX costs nothing.
    assert!(
        read_pth(&archive_of_pickle(b"}r\xff\xff\xff\xff0j\xff\xff\xff\xff."))
            .expect("ok")
            .is_empty()
    );
}

#[test]
fn many_views_of_one_storage_stay_cheap() {
    // 20 000 one-element views of a 64 KiB storage: the storage is checksummed once, not once
    // per view (which would be 1.3 GB of CRC work from a 300 KB file).
    let mut pickle = one_tensor_pickle(16_384, 3, &[1], &[1], b"");
    pickle.truncate(pickle.len() - 2); // drop SETITEMS + STOP
    pickle.extend(b"r\0\0\0\0");
    for i in 1..20_000 {
        pickle.extend(unicode(&format!("k{i}")));
        pickle.extend(b"j\0\0\0\0");
    }
    pickle.extend(b"u.");
    let storage: Vec<f32> = (0..16_384).map(|i| i as f32).collect();
    let set = read_pth(&archive_with(pickle, &storage)).expect("valid");
    assert_eq!(set.len(), 20_000);
    assert_eq!(floats(&set, "k19999"), (vec![1], vec![3.0]));
}

#[test]
fn corrupt_zip_structures_fail_cleanly() {
    let small = fixture("small_p2.pth");
    let eocd = small.len() - 22;
    let mut bad_cd = small.clone();
    bad_cd[eocd + 16..eocd + 20].copy_from_slice(&u32::MAX.to_le_bytes());
    // torch writes a ZIP64 locator, so the plain record's offset is not used at all.
    assert!(read_pth(&bad_cd).is_ok());
    let plain = zip_of(&entries_of(&small), false);
    let eocd = plain.len() - 22;
    let mut beyond = plain.clone();
    beyond[eocd + 16..eocd + 20].copy_from_slice(&(plain.len() as u32).to_le_bytes());
    assert_error(&beyond, &["central directory", "beyond the file"]);
    let mut bad_sig = plain.clone();
    let cd = u32::from_le_bytes(plain[eocd + 16..eocd + 20].try_into().expect("4")) as usize;
    bad_sig[cd] = b'X';
    assert_error(&bad_sig, &["bad central directory signature"]);
    let mut bad_local = plain.clone();
    bad_local[0..4].copy_from_slice(b"PK\x03\x04");
    let first_local = u32::from_le_bytes(plain[cd + 42..cd + 46].try_into().expect("4")) as usize;
    assert_eq!(first_local, 0);
    bad_local[cd + 42] = 1; // first entry's local header now "at byte 1"
    assert_error(&bad_local, &["no valid local header at byte 1"]);
    let mut huge = plain.clone();
    huge[cd + 20..cd + 28].copy_from_slice(&[0xf0; 8]); // sizes of the first entry
    assert_error(&huge, &["runs past the end of the file"]);
    let two = zip_of(&[("a".into(), vec![1; 8]), ("b".into(), vec![2; 8])], false);
    let second = two.len() - 22 - 47; // the second of two 47-byte central records
    let mut overlapping = two.clone();
    overlapping[second + 42..second + 46].copy_from_slice(&0u32.to_le_bytes());
    assert_error(&overlapping, &["entries `a` and `b` overlap"]);
    let mut no_zip64 = plain;
    no_zip64[cd + 24..cd + 28].copy_from_slice(&u32::MAX.to_le_bytes());
    no_zip64[cd + 20..cd + 24].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_error(&no_zip64, &["missing or short ZIP64 extra field"]);
}

// --- robustness ---------------------------------------------------------------------------

#[test]
fn every_truncation_fails_without_panicking() {
    let small = fixture("small_p2.pth");
    for cut in 0..small.len() {
        let message = error_of(&small[..cut]);
        assert!(
            message.contains("truncated") || message.contains("not a PyTorch .pth file"),
            "cut {cut}: {message}"
        );
    }
    let big = reference("tinyunet_c1_s1_64x64.weights.pth");
    for i in 0..64 {
        let cut = big.len() * i / 64 + i;
        assert!(
            read_pth(&big[..cut.min(big.len() - 1)]).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn byte_flips_never_panic() {
    for file in ["small_p2.pth", "small_p5.pth"] {
        let original = fixture(file);
        for at in 0..original.len() {
            for mask in [0x01, 0x80, 0xff] {
                let mut bytes = original.clone();
                bytes[at] ^= mask;
                let _ = read_pth(&bytes);
            }
        }
    }
    // Pickle-level fuzzing, past the CRC: flip bytes of data.pkl and re-zip with a fresh CRC.
    let entries = entries_of(&fixture("small_p5.pth"));
    let pickle = &entries
        .iter()
        .find(|(n, _)| n.ends_with("data.pkl"))
        .expect("pkl")
        .1;
    for at in 0..pickle.len() {
        for mask in [0x01, 0x10, 0x80, 0xff] {
            let mut edited = entries.clone();
            for (n, d) in &mut edited {
                if n.ends_with("data.pkl") {
                    d[at] ^= mask;
                }
            }
            let _ = read_pth(&zip_of(&edited, false));
        }
    }
    let big = reference("tinyunet_c1_s1_64x64.weights.pth");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut bytes = big.clone();
        bytes[(state % big.len() as u64) as usize] ^= (state >> 32) as u8 | 1;
        let _ = read_pth(&bytes);
    }
}
