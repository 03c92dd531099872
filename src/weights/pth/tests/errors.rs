//! Each way a `.pth` file can be refused, and the message that says so.

use super::writers::{
    SIX, archive_of_pickle, archive_with, global, one_tensor_pickle, rezip, unicode, zip_of,
};
use super::{assert_error, fixture, read_pth};

#[test]
fn not_a_zip() {
    let message = "not a PyTorch .pth file (no ZIP signature); legacy non-zip torch.save";
    assert_error(&fixture("legacy.pth"), &[message]);
    assert_error(b"", &[message]);
    assert_error(b"hello world", &[message]);
    assert_error(&fixture("small.safetensors"), &[message]);
}

#[test]
fn compressed_entries_are_refused() {
    assert_error(
        &fixture("deflated.pth"),
        &["is compressed (method 8)", "data.pkl"],
    );
}

#[test]
fn forbidden_globals_are_named() {
    let tail = "; only tensor state_dicts are accepted";
    assert_error(
        &fixture("os_system.pth"),
        &["forbidden global `posix.system`", tail],
    );
    assert_error(
        &fixture("whole_model.pth"),
        &["forbidden global `torch.nn.modules.linear.Linear`"],
    );
    let mut eval = global("builtins", "eval");
    eval.extend(unicode("print(1)"));
    eval.extend(b"\x85R.");
    assert_error(
        &archive_of_pickle(&eval),
        &["forbidden global `builtins.eval`", tail],
    );
    // Protocol 4 style: STACK_GLOBAL with SHORT_BINUNICODE operands.
    let popen = b"\x8c\x0asubprocess\x8c\x05Popen\x93.";
    assert_error(
        &archive_of_pickle(popen),
        &["forbidden global `subprocess.Popen`"],
    );
    let script = global("__torch__.model", "TinyUNet");
    assert_error(
        &archive_of_pickle(&script),
        &["`__torch__.model.TinyUNet`", "TorchScript"],
    );
    // A storage class is a marker in persistent ids; calling one is still refused.
    let mut call = global("torch", "FloatStorage");
    call.extend(b")R.");
    assert_error(&archive_of_pickle(&call), &["calling a storage class"]);
}

#[test]
fn unknown_and_unsupported_opcodes_are_named() {
    assert_error(
        &archive_of_pickle(b"\xff"),
        &["data.pkl byte 2", "unknown pickle opcode 0xff"],
    );
    assert_error(&archive_of_pickle(b"\x81"), &["opcode 0x81 (NEWOBJ)"]);
    assert_error(&archive_of_pickle(b"C\x01x."), &["opcode 0x43 (BINBYTES)"]);
}

#[test]
fn top_level_must_be_a_dict_of_tensors() {
    assert_error(
        &fixture("list_top.pth"),
        &["top-level object is a list, not a dict"],
    );
    assert_error(
        &archive_of_pickle(b"K\x01."),
        &["top-level object is an int"],
    );
    assert_error(
        &fixture("checkpoint.pth"),
        &["state_dict entry `epoch` is an int, not a tensor"],
    );
    let mut nested = b"}".to_vec();
    nested.extend(unicode("model"));
    nested.extend(b"}s.");
    assert_error(
        &archive_of_pickle(&nested),
        &["`model` is a dict", "checkpoint"],
    );
    assert_error(
        &archive_of_pickle(b"}K\x03K\x04s."),
        &["key 3 is an integer"],
    );
}

#[test]
fn missing_entries_are_named() {
    let small = fixture("small_p2.pth");
    let no_pickle = rezip(&small, |n, d| (!n.ends_with("data.pkl")).then_some(d));
    assert_error(&no_pickle, &["missing data.pkl"]);
    let no_storage = rezip(&small, |n, d| (n != "small_p2/data/0").then_some(d));
    assert_error(
        &no_storage,
        &["tensor `f32`", "`small_p2/data/0` is missing"],
    );
    let two = zip_of(
        &[
            ("a/data.pkl".into(), b".".to_vec()),
            ("b/data.pkl".into(), b".".to_vec()),
        ],
        false,
    );
    assert_error(&two, &["several data.pkl"]);
}

#[test]
fn short_storages_and_out_of_range_views_are_refused() {
    let small = fixture("small_p2.pth");
    let short = rezip(&small, |n, d| {
        Some(if n == "small_p2/data/0" {
            d[..4].to_vec()
        } else {
            d
        })
    });
    assert_error(&short, &["tensor `f32`", "holds 4 bytes", "6 F32 elements"]);
    let pickle = one_tensor_pickle(6, 5, &[2], &[1], b"");
    assert_error(
        &archive_with(pickle, &SIX),
        &["tensor `w`", "reach element 6", "holds only 6"],
    );
    let pickle = one_tensor_pickle(6, 0, &[2, 3], &[5, 1], b"");
    assert_error(&archive_with(pickle, &SIX), &["reach element 7"]);
    let pickle = one_tensor_pickle(7, 0, &[7], &[1], b"");
    assert_error(
        &archive_with(pickle, &SIX),
        &["holds 24 bytes", "7 F32 elements"],
    );
    let pickle = one_tensor_pickle(6, -1, &[2], &[1], b"");
    assert_error(
        &archive_with(pickle, &SIX),
        &["negative tensor storage_offset -1"],
    );
    let pickle = one_tensor_pickle(6, 0, &[2, 3], &[1], b"");
    assert_error(
        &archive_with(pickle, &SIX),
        &["size and stride have different lengths"],
    );
    // Zero strides could make a few bytes decode into gigabytes; the file length bounds it.
    let pickle = one_tensor_pickle(6, 0, &[1 << 30, 1 << 30], &[0, 0], b"");
    assert_error(
        &archive_with(pickle, &SIX),
        &["more elements than the whole file"],
    );
}

#[test]
fn byte_order_and_checksums_are_checked() {
    let small = fixture("small_p2.pth");
    let big = rezip(&small, |n, d| {
        Some(if n.ends_with("/byteorder") {
            b"big".to_vec()
        } else {
            d
        })
    });
    assert_error(&big, &["big-endian"]);
    let odd = rezip(&small, |n, d| {
        Some(if n.ends_with("/byteorder") {
            b"middle".to_vec()
        } else {
            d
        })
    });
    assert_error(&odd, &["unrecognised byteorder"]);
    let no_order = rezip(&small, |n, d| (!n.ends_with("/byteorder")).then_some(d));
    assert!(
        read_pth(&no_order).is_ok(),
        "old files have no byteorder record"
    );
    // Flip a bit inside the f32 tensor's data: the CRC catches it.
    let needle: Vec<u8> = [1.0f32, -2.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = small
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("f32 data");
    let mut corrupt = small.clone();
    corrupt[at] ^= 1;
    assert_error(&corrupt, &["`small_p2/data/0` fails its CRC-32 check"]);
}

#[test]
fn unsupported_dtypes_and_lazy_bits_are_named() {
    assert_error(
        &fixture("float8.pth"),
        &["tensor `f8`", "unsupported dtype `torch.float8_e4m3fn`"],
    );
    let mut neg = b"}".to_vec();
    neg.extend(unicode("neg"));
    neg.extend(b"\x88s");
    let pickle = one_tensor_pickle(6, 0, &[6], &[1], &neg);
    assert_error(
        &archive_with(pickle, &SIX),
        &["tensor `w`", "lazy negation"],
    );
}
