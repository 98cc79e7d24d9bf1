//! Inclusion and consistency proofs: generation per RFC 6962 §2.1.1–§2.1.2 and verification per
//! RFC 9162 §2.1.3.2 and §2.1.4.2.

use crate::hash::{fold_right, node_hash, Hash};

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not in a tree of size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the first tree size {first} is larger than the second {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("a consistency proof from the empty tree proves nothing")]
    ConsistencyFromEmptyTree,
    #[error("trees of equal size {size} need an empty proof and equal roots")]
    EqualSizesDiffer { size: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongProofLength,
    #[error("proof element {position} is not a 32-byte hash")]
    MalformedProofHash { position: usize },
    #[error("a root or leaf hash is not 32 bytes")]
    MalformedHash,
    #[error("the proof does not lead to the expected root")]
    RootMismatch,
}

/// Checks that `leaf` is at `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `first` leaves with root `first_root` is a prefix of the tree of
/// `second` leaves with root `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    check_sizes(first, second, proof.len())?;
    if first == second {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::EqualSizesDiffer { size: first })
        };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongProofLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_root);
    }
    path.extend_from_slice(proof);
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if fr != *first_root || sr != *second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

fn check_sizes(first: u64, second: u64, proof_len: usize) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    if first == 0 {
        return Err(ProofError::ConsistencyFromEmptyTree);
    }
    if first == second && proof_len != 0 {
        return Err(ProofError::EqualSizesDiffer { size: first });
    }
    Ok(())
}

/// [`verify_consistency`] on values as they arrive on the wire (base64-decoded bytes), checking
/// the sizes before the hash lengths, so that equal sizes compare the roots byte for byte.
pub fn verify_consistency_bytes(
    first: u64,
    second: u64,
    first_root: &[u8],
    second_root: &[u8],
    proof: &[Vec<u8>],
) -> Result<(), ProofError> {
    check_sizes(first, second, proof.len())?;
    if first == second {
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::EqualSizesDiffer { size: first })
        };
    }
    let proof = decode_proof(proof)?;
    let r1 = Hash::from_slice(first_root).map_err(|_| ProofError::MalformedHash)?;
    let r2 = Hash::from_slice(second_root).map_err(|_| ProofError::MalformedHash)?;
    verify_consistency(first, second, &r1, &r2, &proof)
}

/// [`verify_inclusion`] on values as they arrive on the wire.
pub fn verify_inclusion_bytes(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), ProofError> {
    let proof = decode_proof(proof)?;
    let leaf = Hash::from_slice(leaf).map_err(|_| ProofError::MalformedHash)?;
    let root = Hash::from_slice(root).map_err(|_| ProofError::MalformedHash)?;
    verify_inclusion(index, size, &leaf, &proof, &root)
}

fn decode_proof(proof: &[Vec<u8>]) -> Result<Vec<Hash>, ProofError> {
    proof
        .iter()
        .enumerate()
        .map(|(position, p)| {
            Hash::from_slice(p).map_err(|_| ProofError::MalformedProofHash { position })
        })
        .collect()
}

/// Where proofs find the hashes of perfect subtrees: `perfect(level, index)` is the root of the
/// 2^level leaves starting at leaf `index << level`. A tile store answers it from tiles; tests
/// answer it from memory.
pub trait SubtreeHashes {
    type Error;
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// MTH(D\[lo:hi\]) of RFC 6962 §2.1 for the ranges that proofs need, built from perfect subtrees.
pub fn range_hash<S: SubtreeHashes>(source: &S, lo: u64, hi: u64) -> Result<Hash, S::Error> {
    let mut parts = Vec::new();
    let mut at = lo;
    while at < hi {
        let mut level = if at == 0 { 63 } else { at.trailing_zeros() };
        while level > 0 && at.checked_add(1u64 << level).is_none_or(|end| end > hi) {
            level -= 1;
        }
        parts.push(source.perfect(level as u8, at >> level)?);
        at += 1u64 << level;
    }
    Ok(fold_right(&parts))
}

fn split_point(n: u64) -> u64 {
    // The largest power of two smaller than n (RFC 6962 §2.1), for n > 1.
    1u64 << (63 - (n - 1).leading_zeros())
}

/// PATH(m, D\[n\]) of RFC 6962 §2.1.1, from the leaf's sibling up to the root's child.
pub fn inclusion_proof<S: SubtreeHashes>(
    source: &S,
    index: u64,
    size: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if index >= size {
        return Ok(Err(ProofError::IndexBeyondSize { index, size }));
    }
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            proof.push(range_hash(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k)?);
            lo += k;
            m -= k;
        }
    }
    proof.reverse();
    Ok(Ok(proof))
}

/// PROOF(m, D\[n\]) of RFC 6962 §2.1.2, for 0 < m ≤ n.
pub fn consistency_proof<S: SubtreeHashes>(
    source: &S,
    first: u64,
    second: u64,
) -> Result<Result<Vec<Hash>, ProofError>, S::Error> {
    if first > second {
        return Ok(Err(ProofError::SizesOutOfOrder { first, second }));
    }
    if first == 0 {
        return Ok(Err(ProofError::ConsistencyFromEmptyTree));
    }
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m, mut complete) = (0u64, second, first, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !complete {
                proof.push(range_hash(source, lo, hi)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k)?);
            lo += k;
            m -= k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(Ok(proof))
}

/// A tree held in memory, for tests and small tools: every level of the tree, leaf hashes first.
#[derive(Debug, Default, Clone)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    pub fn new() -> Self {
        MemoryTree::default()
    }

    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let row = &self.levels[level];
            let parent = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
    }

    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root of the first `size` leaves; `size` must not exceed [`MemoryTree::size`].
    pub fn root(&self, size: u64) -> Hash {
        range_hash(self, 0, size).unwrap_or_else(|never| match never {})
    }
}

impl SubtreeHashes for MemoryTree {
    type Error = std::convert::Infallible;
    fn perfect(&self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        Ok(self.levels[level as usize][index as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use proptest::prelude::*;

    fn tree(n: u64) -> MemoryTree {
        let mut t = MemoryTree::new();
        for i in 0..n {
            t.push(leaf_hash(&i.to_be_bytes()));
        }
        t
    }

    fn infallible<T>(r: Result<T, std::convert::Infallible>) -> T {
        r.unwrap_or_else(|never| match never {})
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn inclusion_proofs_verify_and_tampering_fails(n in 1u64..300, seed in any::<u64>(), flip in any::<usize>()) {
            let t = tree(n);
            let index = seed % n;
            let root = t.root(n);
            let proof = infallible(inclusion_proof(&t, index, n)).expect("index is in range");
            let leaf = leaf_hash(&index.to_be_bytes());
            prop_assert_eq!(verify_inclusion(index, n, &leaf, &proof, &root), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = flip % bad.len();
                bad[at].0[flip % 32] ^= 1;
                prop_assert!(verify_inclusion(index, n, &leaf, &bad, &root).is_err());
            }
            prop_assert!(verify_inclusion(index, n, &leaf_hash(b"other"), &proof, &root).is_err());
        }

        #[test]
        fn consistency_proofs_verify_and_tampering_fails(n in 1u64..300, seed in any::<u64>(), flip in any::<usize>()) {
            let t = tree(n);
            let m = 1 + seed % n;
            let proof = infallible(consistency_proof(&t, m, n)).expect("sizes are in order");
            prop_assert_eq!(verify_consistency(m, n, &t.root(m), &t.root(n), &proof), Ok(()));
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let at = flip % bad.len();
                bad[at].0[flip % 32] ^= 1;
                prop_assert!(verify_consistency(m, n, &t.root(m), &t.root(n), &bad).is_err());
                prop_assert!(verify_consistency(m, n, &t.root(m), &t.root(n), &proof[1..]).is_err());
            }
        }
    }
}
