//! Prepares a data directory for the read benchmark and writes signed requests for wrk.
//!
//! `bench_requests DATA COUNT PREFIX OUT`: in DATA (a province from `errandless demo`, which
//! registers `civil_affairs` and `public_security` with their keys under `members/`), files and
//! approves a grant for `civil_affairs` to read names and sexes of residents, if none is in
//! force, then writes COUNT requests to OUT, one a line: `path<TAB>request id<TAB>signature`,
//! each for a different resident, with request ids PREFIX-0, PREFIX-1, … (never reused: a
//! replay is refused). See `bench/README.md`.

use std::io::Write as _;
use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Grants, LegalBasis, LegalBasisKind, Mode, Purpose, ReadRequest, Terms,
};
use errandless_store::Store;

fn key(path: &std::path::Path) -> Result<SigningKey, Box<dyn std::error::Error>> {
    let seed: [u8; 32] = BASE64
        .decode(std::fs::read_to_string(path)?.trim())?
        .try_into()
        .map_err(|_| "a key file holds 32 bytes")?;
    Ok(SigningKey::from_bytes(&seed))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, count, prefix, out] = args.as_slice() else {
        return Err("usage: bench_requests DATA COUNT PREFIX OUT".into());
    };
    let data = PathBuf::from(data);
    let count: usize = count.parse()?;
    let store = Store::open(&Store::default_url(&data)).await?;
    migrate(&store).await?;
    let grants = Grants::new(store.clone());
    let dataset = "public_security.resident";
    let in_force = grants
        .grants_of("civil_affairs", dataset)
        .await?
        .iter()
        .any(|g| g.revoked.is_none());
    if !in_force {
        let terms = Terms {
            consumer: "civil_affairs".into(),
            dataset: dataset.into(),
            fields: vec!["name".into(), "sex".into(), "birth_date".into()],
            purpose: Purpose::BenefitEligibility,
            legal_basis: LegalBasis {
                kind: LegalBasisKind::AdministrativeRegulation,
                reference: "社会救助暂行办法 第十一条".into(),
            },
            valid_from: 0,
            valid_until: i64::MAX,
            scope: None,
            mode: Mode::PerSubject,
        };
        let request = grants.file(terms, 0).await?;
        grants.approve(&request.id, "public_security", 0).await?;
    }
    store.close().await;

    let consumer = key(&data.join("members/civil_affairs.key"))?;
    let island = rusqlite::Connection::open_with_flags(
        data.join("islands/public_security.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )?;
    let mut stmt = island.prepare("SELECT id_number FROM resident LIMIT ?1")?;
    let subjects: Vec<String> = stmt
        .query_map([i64::try_from(count)?], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if subjects.is_empty() {
        return Err("the island has no residents".into());
    }
    let mut w = std::io::BufWriter::new(std::fs::File::create(out)?);
    for i in 0..count {
        let subject = &subjects[i % subjects.len()];
        let request = ReadRequest {
            request_id: format!("{prefix}-{i}"),
            consumer: "civil_affairs".into(),
            dataset: dataset.into(),
            subject: subject.clone(),
            fields: vec!["name".into(), "sex".into()],
            purpose: Purpose::BenefitEligibility.code().into(),
        };
        let signed = request.clone().sign(&consumer);
        writeln!(
            w,
            "/data/{dataset}/1.0/read?subject={subject}&fields=name,sex\t{}\t{}",
            request.request_id,
            BASE64.encode(&signed.signature)
        )?;
    }
    w.flush()?;
    Ok(())
}
