//! `errandless member`: register departments with the exchange, list them, rotate their keys.
//!
//! A member's private key is generated here and written once, mode 0600, to `--key-out` or
//! `<data>/members/<id>.key` (standard base64 of the 32-byte Ed25519 seed); only the public key
//! goes into the platform store. `errandless serve` signs an owner's answers with the key it
//! finds there.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use clap::Subcommand;
use ed25519_dalek::SigningKey;
use errandless_exchange::{key_text, Member, Members, NewMember};

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Register a department: generates its Ed25519 key, writes the private key (mode 0600)
    /// and prints the public key.
    Add {
        /// The department's identifier in the unified standard, e.g. `civil_affairs`.
        #[arg(long, value_name = "ID")]
        id: String,
        /// Its unified social credit code (GB 32100, 18 characters).
        #[arg(long, value_name = "CODE")]
        uscc: String,
        /// Its name in Chinese.
        #[arg(long, value_name = "NAME")]
        name_zh: String,
        /// Its name in English.
        #[arg(long, value_name = "NAME")]
        name_en: String,
        /// Where to write the private key (default: <data>/members/<ID>.key); never overwritten.
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
    },
    /// List the registered members with their current and retired keys.
    List,
    /// Give a member a new key; the old one is retired but kept, so old signatures verify.
    RotateKey {
        #[arg(long, value_name = "ID")]
        id: String,
        /// Where to write the new private key (default: <data>/members/<ID>.key, the old file
        /// being kept as <ID>.key.retired-<millis>).
        #[arg(long, value_name = "FILE")]
        key_out: Option<PathBuf>,
    },
}

/// Where a member's private key is kept by default.
pub fn default_key_file(data: &Path, id: &str) -> PathBuf {
    data.join("members").join(format!("{id}.key"))
}

/// Reads a private key written by `member add` or `member rotate-key`.
pub fn read_key_file(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("while reading the member key {}", path.display()))?;
    let seed: [u8; 32] = BASE64
        .decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{} is not a base64 Ed25519 private key", path.display()))?;
    Ok(SigningKey::from_bytes(&seed))
}

pub fn run(cmd: MemberCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let store = settings.open_store().await?;
        errandless_exchange::migrate(&store)
            .await
            .context("while preparing the exchange's tables")?;
        let members = Members::new(store.clone());
        let result = match cmd {
            MemberCommand::Add {
                id,
                uscc,
                name_zh,
                name_en,
                key_out,
            } => {
                let path = key_out.unwrap_or_else(|| default_key_file(&settings.data, &id));
                add(&members, id, uscc, name_zh, name_en, &path).await
            }
            MemberCommand::List => list(&members).await,
            MemberCommand::RotateKey { id, key_out } => {
                rotate(&members, &settings.data, &id, key_out).await
            }
        };
        store.close().await;
        result
    })
}

fn generate() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).expect("the operating system provides randomness");
    SigningKey::from_bytes(&seed)
}

/// Writes a private key to a new file, mode 0600, and syncs it.
fn write_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("while creating the key file {}", path.display()))?;
    f.write_all(format!("{}\n", BASE64.encode(key.to_bytes())).as_bytes())?;
    f.sync_all()?;
    Ok(())
}

async fn add(
    members: &Members,
    id: String,
    uscc: String,
    name_zh: String,
    name_en: String,
    key_out: &Path,
) -> anyhow::Result<ExitCode> {
    let (member, _) = register(members, id, uscc, name_zh, name_en, key_out).await?;
    eprintln!(
        "registered {} ({}); private key in {}",
        member.id,
        member.uscc,
        key_out.display()
    );
    println!("{}", key_text(&member.key));
    Ok(ExitCode::SUCCESS)
}

/// Registers a member as `member add` does: a new key, written once (mode 0600) to `key_out`,
/// whose public half goes into the store. Returns the member and its private key.
pub(crate) async fn register(
    members: &Members,
    id: String,
    uscc: String,
    name_zh: String,
    name_en: String,
    key_out: &Path,
) -> anyhow::Result<(Member, SigningKey)> {
    let key = generate();
    write_key(key_out, &key)?;
    let new = NewMember {
        id: id.clone(),
        uscc,
        name_zh,
        name_en,
        key: key.verifying_key(),
    };
    match members
        .register(new, errandless_exchange::now_millis())
        .await
    {
        Ok(member) => Ok((member, key)),
        Err(e) => {
            // Nothing was registered, so the key we just wrote belongs to no one.
            let _ = std::fs::remove_file(key_out);
            Err(e).with_context(|| format!("while registering {id:?}"))
        }
    }
}

async fn list(members: &Members) -> anyhow::Result<ExitCode> {
    let all = members.list().await.context("while listing the members")?;
    print_members(&all);
    Ok(ExitCode::SUCCESS)
}

/// The table `member list` prints.
pub(crate) fn print_members(all: &[Member]) {
    println!(
        "{:<24} {:<18} {:<44} {:>7}  name",
        "id", "uscc", "key", "retired"
    );
    for m in all {
        println!(
            "{:<24} {:<18} {:<44} {:>7}  {} / {}",
            m.id,
            m.uscc,
            key_text(&m.key),
            m.retired_keys.len(),
            m.name_zh,
            m.name_en
        );
    }
}

async fn rotate(
    members: &Members,
    data: &Path,
    id: &str,
    key_out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (member, path, _) = rotate_key(members, data, id, key_out).await?;
    eprintln!(
        "{} now signs with a new key ({} retired); private key in {}",
        member.id,
        member.retired_keys.len(),
        path.display()
    );
    println!("{}", key_text(&member.key));
    Ok(ExitCode::SUCCESS)
}

/// Gives a member a new key as `member rotate-key` does. Returns the member, where its private
/// key was written, and the key.
pub(crate) async fn rotate_key(
    members: &Members,
    data: &Path,
    id: &str,
    key_out: Option<PathBuf>,
) -> anyhow::Result<(Member, PathBuf, SigningKey)> {
    if members.get(id).await?.is_none() {
        anyhow::bail!("no member {id:?} is registered (add it with `errandless member add`)");
    }
    let now = errandless_exchange::now_millis();
    let key = generate();
    let mut kept = None;
    let path = match key_out {
        Some(p) => p,
        None => {
            let path = default_key_file(data, id);
            if path.exists() {
                let old = path.with_extension(format!("key.retired-{now}"));
                std::fs::rename(&path, &old)
                    .with_context(|| format!("while keeping the old key as {}", old.display()))?;
                kept = Some(old);
            }
            path
        }
    };
    let rotated = match write_key(&path, &key) {
        Ok(()) => members
            .rotate_key(id, key.verifying_key(), now)
            .await
            .with_context(|| format!("while rotating the key of {id:?}")),
        Err(e) => Err(e),
    };
    let member = match rotated {
        Ok(member) => member,
        Err(e) => {
            // The member still signs with its old key: put its file back.
            if let Some(old) = kept {
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::rename(&old, &path);
            }
            return Err(e);
        }
    };
    Ok((member, path, key))
}
