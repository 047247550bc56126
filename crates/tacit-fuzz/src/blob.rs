//! The blob_stream target: what an asker reads from a holder of an attachment.

use std::sync::OnceLock;

use tacit_store::{BLOB_GROUP, encode_blob_stream, verify_stream};

/// The blob the asker wants (five groups, the last one short), its hash, and the honest stream
/// of it from the start and from the second group.
pub(crate) fn blob() -> &'static (Vec<u8>, blake3::Hash, [Vec<u8>; 2]) {
    static BLOB: OnceLock<(Vec<u8>, blake3::Hash, [Vec<u8>; 2])> = OnceLock::new();
    BLOB.get_or_init(|| {
        let bytes: Vec<u8> = (0..4 * BLOB_GROUP as u32 + 1234)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let (hash, whole) = encode_blob_stream(&bytes, 0);
        let (_, from_second) = encode_blob_stream(&bytes, BLOB_GROUP);
        (bytes, hash, [whole, from_second])
    })
}

/// `verify_stream` of the fixture's blob: `[mode][rest]`. Mode bit 0 clear: `rest` is the
/// whole stream a holder sent. Set: the honest stream, with `rest` read as patches of three
/// bytes (position u16 LE, a byte XORed there). Bit 1 asks from the second group instead of the
/// start. Whatever the holder sends, what is handed on is exactly the blob's bytes from the
/// offset, in order, and the check succeeds only when all of them were.
pub fn blob_stream(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (bytes, hash, honest) = blob();
    let k = usize::from(mode >> 1 & 1);
    let offset = k as u64 * BLOB_GROUP;
    let stream = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut s = honest[k].clone();
        for p in rest.chunks_exact(3) {
            let at = usize::from(u16::from_le_bytes([p[0], p[1]]));
            if let Some(b) = s.get_mut(at) {
                *b ^= p[2];
            }
        }
        s
    };
    let mut got = Vec::new();
    let checked = verify_stream(&stream[..], hash, bytes.len() as u64, offset, |b, _| {
        got.extend_from_slice(b);
        Ok(())
    });
    let want = bytes.get(offset as usize..).unwrap_or_default();
    assert!(
        want.starts_with(&got),
        "bytes handed on that are not the blob's"
    );
    if checked.is_ok() {
        assert_eq!(got.len(), want.len(), "a check passed short of the end");
    }
}
