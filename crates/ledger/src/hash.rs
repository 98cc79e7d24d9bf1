//! Merkle tree hashing of RFC 6962 §2.1 (kept unchanged by RFC 9162 §2.1.1).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::fmt;

/// Length in bytes of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 Merkle tree hash: a leaf hash, an interior node or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

/// A hash could not be read from its text or bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashFormatError {
    #[error("hash is not valid base64")]
    NotBase64,
    #[error("hash has {0} bytes, want 32")]
    WrongLength(usize),
}

impl Hash {
    /// MTH({}) of RFC 6962 §2.1: the hash of an empty tree, SHA-256 of the empty string.
    pub fn empty_tree() -> Hash {
        Hash(Sha256::digest([]).into())
    }

    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, HashFormatError> {
        <[u8; HASH_LEN]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashFormatError::WrongLength(bytes.len()))
    }

    /// Reads a hash from standard base64 (RFC 4648 §4), as checkpoints and proofs carry it.
    pub fn from_base64(text: &str) -> Result<Hash, HashFormatError> {
        let bytes = BASE64
            .decode(text)
            .map_err(|_| HashFormatError::NotBase64)?;
        Hash::from_slice(&bytes)
    }

    /// The hash in standard base64 (RFC 4648 §4).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// The hash in lowercase hexadecimal.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

type Block = sha2::digest::generic_array::GenericArray<u8, sha2::digest::consts::U64>;

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// SHA-256 of a message already padded into `blocks` (FIPS 180-4 §5.1.1). Tree hashing calls
/// this directly: it halves the cost of hashing two 32-byte children against the generic hasher.
fn digest_padded(blocks: &[Block]) -> Hash {
    let mut state = SHA256_IV;
    sha2::compress256(&mut state, blocks);
    let mut out = [0u8; HASH_LEN];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    Hash(out)
}

/// Pads `message` into `buf` (FIPS 180-4 §5.1.1) and returns the number of blocks used.
fn pad_into(buf: &mut [Block; 4], prefix: u8, message: &[u8]) -> usize {
    let len = message.len() + 1;
    let blocks = (len + 8) / 64 + 1;
    let mut bytes = [0u8; 256];
    bytes[0] = prefix;
    bytes[1..len].copy_from_slice(message);
    bytes[len] = 0x80;
    let total = blocks * 64;
    bytes[total - 8..total].copy_from_slice(&((len as u64) * 8).to_be_bytes());
    for (i, b) in buf[..blocks].iter_mut().enumerate() {
        b.copy_from_slice(&bytes[i * 64..(i + 1) * 64]);
    }
    blocks
}

/// MTH({d(0)}) = SHA-256(0x00 || d(0)), RFC 6962 §2.1.
pub fn leaf_hash(entry: &[u8]) -> Hash {
    if entry.len() + 1 + 9 <= 256 {
        let mut buf = [Block::default(); 4];
        let n = pad_into(&mut buf, 0, entry);
        return digest_padded(&buf[..n]);
    }
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    Hash(h.finalize().into())
}

/// SHA-256(0x01 || left || right), RFC 6962 §2.1: 65 bytes, always two blocks.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut blocks = [Block::default(); 2];
    blocks[0][0] = 1;
    blocks[0][1..33].copy_from_slice(&left.0);
    blocks[0][33..64].copy_from_slice(&right.0[..31]);
    blocks[1][0] = right.0[31];
    blocks[1][1] = 0x80;
    blocks[1][56..64].copy_from_slice(&(65u64 * 8).to_be_bytes());
    digest_padded(&blocks)
}

/// The root of a perfect subtree whose leaves (at any level) are `hashes`; `hashes.len()` must
/// be a power of two. Used to climb inside a tile (C2SP tlog-tiles: "the Merkle Tree levels
/// between those expressed by the tile hashes are reconstructed by hashing the leaves").
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut level: Vec<Hash> = hashes.to_vec();
    while level.len() > 1 {
        let next: Vec<Hash> = level
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
        level = next;
    }
    level.first().copied().unwrap_or_else(Hash::empty_tree)
}

/// The root over consecutive perfect subtrees ordered left to right with strictly decreasing
/// sizes, as the binary decomposition of a tree size gives them (RFC 6962 §2.1: the split at
/// the largest power of two smaller than n, applied recursively).
pub fn fold_right(subtrees: &[Hash]) -> Hash {
    let mut iter = subtrees.iter().rev();
    let Some(last) = iter.next() else {
        return Hash::empty_tree();
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_is_sha256_of_nothing() {
        assert_eq!(
            Hash::empty_tree().to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn leaf_of_empty_entry_matches_rfc6962_vectors() {
        assert_eq!(
            leaf_hash(b"").to_base64(),
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0="
        );
    }

    proptest::proptest! {
        #[test]
        fn direct_padding_matches_the_generic_hasher(entry in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), l in proptest::prelude::any::<[u8; 32]>(), r in proptest::prelude::any::<[u8; 32]>()) {
            let mut h = Sha256::new();
            h.update([0u8]);
            h.update(&entry);
            proptest::prop_assert_eq!(leaf_hash(&entry), Hash(h.finalize().into()));
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(l);
            h.update(r);
            proptest::prop_assert_eq!(node_hash(&Hash(l), &Hash(r)), Hash(h.finalize().into()));
        }
    }

    #[test]
    fn short_or_garbled_hashes_are_refused() {
        assert_eq!(Hash::from_base64(""), Err(HashFormatError::WrongLength(0)));
        assert_eq!(Hash::from_base64("!!"), Err(HashFormatError::NotBase64));
    }
}
