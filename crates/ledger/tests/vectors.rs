//! Every case of the transparency-dev/merkle RFC 6962 proof vectors (testdata/merkle, Apache
//! License 2.0): happy paths verify, every mutated case is refused.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use errandless_ledger::{verify_consistency_bytes, verify_inclusion_bytes};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn cases(kind: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/merkle")
        .join(kind);
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("vector directory") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn b64(v: &Value) -> Vec<u8> {
    BASE64
        .decode(v.as_str().expect("base64 string"))
        .expect("valid base64")
}

fn proof(v: &Value) -> Vec<Vec<u8>> {
    v.as_array()
        .map_or_else(Vec::new, |a| a.iter().map(b64).collect())
}

fn load(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).expect("readable")).expect("json")
}

#[test]
fn inclusion_vectors() {
    let all = cases("inclusion");
    assert!(all.len() > 50, "vectors present");
    for p in all {
        let c = load(&p);
        let got = verify_inclusion_bytes(
            c["leafIdx"].as_u64().expect("leafIdx"),
            c["treeSize"].as_u64().expect("treeSize"),
            &b64(&c["leafHash"]),
            &proof(&c["proof"]),
            &b64(&c["root"]),
        );
        let want_err = c["wantErr"].as_bool().expect("wantErr");
        assert_eq!(got.is_err(), want_err, "{}: {got:?}", p.display());
    }
}

#[test]
fn consistency_vectors() {
    let all = cases("consistency");
    assert!(all.len() > 50, "vectors present");
    for p in all {
        let c = load(&p);
        let got = verify_consistency_bytes(
            c["size1"].as_u64().expect("size1"),
            c["size2"].as_u64().expect("size2"),
            &b64(&c["root1"]),
            &b64(&c["root2"]),
            &proof(&c["proof"]),
        );
        let want_err = c["wantErr"].as_bool().expect("wantErr");
        assert_eq!(got.is_err(), want_err, "{}: {got:?}", p.display());
    }
}
