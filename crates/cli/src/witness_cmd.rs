//! `errandless witness`: a C2SP tlog-witness server that cosigns the checkpoints of the logs it
//! is told to follow, keeping the latest cosigned checkpoint of each durably.
//!
//! Files in the witness directory (default `<data>/witness`): `witness.key` (mode 0600, the
//! cosigning key), `witness.vkey` (its public key, type 0x04 of C2SP tlog-cosignature), `logs`
//! (optional: one log vkey a line; the key's name is the log's origin), and `state/` (one file
//! per log: the latest checkpoint cosigned).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context as _};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use clap::Args;
use errandless_ledger::{NoteSigner, NoteVerifier, Witness, ALG_COSIGNATURE_V1};

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// Address to listen on; the submission prefix is http://<address>.
    #[arg(long, default_value = "127.0.0.1:7380", value_name = "ADDR")]
    listen: String,
    /// The witness's directory (default: <data>/witness).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Create the witness's key with this name (e.g. "witness.example.org/w1"), print its
    /// verifier key, and exit.
    #[arg(long, value_name = "NAME")]
    keygen: Option<String>,
    /// A log to witness, by its verifier key; repeat for more. Added to those in <dir>/logs.
    #[arg(long = "log-key", value_name = "VKEY")]
    log_keys: Vec<String>,
}

pub fn run(args: WitnessArgs, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| data_dir.join("witness"));
    let key_path = dir.join("witness.key");
    if let Some(name) = args.keygen {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("while creating {}", dir.display()))?;
        let key =
            NoteSigner::generate(&name, ALG_COSIGNATURE_V1).context("while checking the name")?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_path)
            .with_context(|| {
                format!(
                    "while creating {} (a witness key is never replaced)",
                    key_path.display()
                )
            })?;
        f.write_all(format!("{}\n", key.to_private_key()).as_bytes())?;
        f.sync_all()?;
        let vkey = key.verifier().to_vkey();
        std::fs::write(dir.join("witness.vkey"), format!("{vkey}\n"))?;
        println!("{vkey}");
        return Ok(ExitCode::SUCCESS);
    }
    let key_text = std::fs::read_to_string(&key_path).with_context(|| {
        format!(
            "while reading {} (create it with `errandless witness --keygen NAME`)",
            key_path.display()
        )
    })?;
    let key = NoteSigner::from_private_key(&key_text).context("while reading the witness key")?;
    let mut logs = Vec::new();
    let list = dir.join("logs");
    if list.exists() {
        let text = std::fs::read_to_string(&list)?;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            logs.push(
                NoteVerifier::from_vkey(line)
                    .with_context(|| format!("{} line {}", list.display(), n + 1))?,
            );
        }
    }
    for v in &args.log_keys {
        logs.push(NoteVerifier::from_vkey(v).with_context(|| format!("log key {v}"))?);
    }
    if logs.is_empty() {
        bail!(
            "no logs to witness: pass --log-key VKEY or list them in {}",
            list.display()
        );
    }
    let origins: Vec<String> = logs.iter().map(|l| l.name().to_owned()).collect();
    let witness =
        Witness::new(key, logs, &dir.join("state")).context("while opening the witness state")?;
    let vkey = witness.verifier().to_vkey();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .context("while starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("while binding {}", args.listen))?;
        let addr = listener.local_addr()?;
        eprintln!(
            "witness {vkey} on http://{addr}/add-checkpoint for {}",
            origins.join(", ")
        );
        let app = Router::new()
            .route("/add-checkpoint", post(add_checkpoint))
            .with_state(Arc::new(witness));
        axum::serve(listener, app).await.context("while serving")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// POST /add-checkpoint (C2SP tlog-witness): the reply's status, content type and body come
/// from the witness's state machine unchanged.
async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let reply = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now)).await;
    match reply {
        Ok(Ok(r)) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, r.content_type)],
            r.body,
        )
            .into_response(),
        Ok(Err(e)) => {
            eprintln!("witness storage failed: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "witness storage failed\n",
            )
                .into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "witness task failed\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: WitnessArgs,
    }

    #[test]
    fn the_arguments_are_well_formed() {
        use clap::CommandFactory as _;
        Wrapper::command().debug_assert();
    }
}
