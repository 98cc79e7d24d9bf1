//! Prepares the identity benchmark and measures password logins.
//!
//! - `bench_identity prepare DATA ISSUER COUNT ALG OUT`: in DATA's platform store (the one
//!   `errandless serve --issuer ISSUER` runs on), registers the client `bench-ALG` (ID tokens
//!   signed with ALG, RS256 or EdDSA) and a citizen with a confirmed phone, logs the citizen
//!   in, and writes COUNT token requests to OUT, one form body a line, each for a fresh code
//!   with its own PKCE verifier. Codes live a minute: run wrk at once.
//! - `bench_identity token DATA ISSUER`: prints one live access token, for UserInfo.
//! - `bench_identity logins SECONDS`: password logins per second in this process, on a
//!   temporary SQLite store, at the Argon2id parameters the platform uses, on every core.
//!
//! See `bench/README.md`.

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use errandless_identity::provider::Alg;
use errandless_identity::{
    now_millis, password, Accounts, AuthorizeParams, ClientAuth, Credentials, DevelopmentChannel,
    Level, NewAccount, NewClient, Outbox, Provider, Secret, Session, Sessions, TokenRequest,
};
use errandless_store::Store;
use sha2::{Digest, Sha256};

type Error = Box<dyn std::error::Error + Send + Sync>;

const PHONE: &str = "13500000000";
const PASSWORD: &str = "benchmark passphrase";
const REDIRECT: &str = "http://127.0.0.1:9/callback";

async fn open(data: &str, issuer: &str) -> Result<(Store, Provider), Error> {
    let store = Store::open(&Store::default_url(std::path::Path::new(data))).await?;
    errandless_identity::migrate(&store).await?;
    let secret = Secret::load_or_create(&store).await?;
    let outbox = Outbox::new(
        store.clone(),
        Arc::new(DevelopmentChannel::new(store.clone())),
    );
    let accounts = Accounts::new(store.clone(), outbox, secret.clone());
    let provider = Provider::open(store.clone(), issuer, accounts, secret, now_millis()).await?;
    Ok((store, provider))
}

/// A client for `alg`, made once; its secret is kept beside the store.
async fn client(data: &str, provider: &Provider, alg: Alg) -> Result<(String, String), Error> {
    let id = format!("bench-{}", alg.name().to_ascii_lowercase());
    let file = std::path::Path::new(data).join(format!("{id}.secret"));
    if provider.clients().find(&id).await?.is_none() {
        let (_, secret) = provider
            .clients()
            .add(
                &NewClient {
                    id: id.clone(),
                    name: "Benchmark".into(),
                    purpose: "benchmark".into(),
                    redirect_uris: vec![REDIRECT.into()],
                    post_logout_redirect_uris: vec![],
                    scopes: vec!["profile".into()],
                    confidential: true,
                    id_token_alg: alg,
                    min_level: Level::L1,
                },
                now_millis(),
            )
            .await?;
        std::fs::write(&file, secret.ok_or("a confidential client has a secret")?)?;
    }
    Ok((id, std::fs::read_to_string(&file)?))
}

/// The bench citizen, registered and confirmed once, logged in now.
async fn session(store: &Store, provider: &Provider) -> Result<Session, Error> {
    let accounts = provider.accounts();
    let account = match accounts.find_by_phone(PHONE).await {
        Ok(a) => a,
        Err(_) => {
            let citizen_id = errandless_standards::CitizenId::compose(
                520102,
                errandless_standards::Date::new(1990, 1, 1)?,
                1,
            );
            let a = accounts
                .register(
                    &NewAccount {
                        citizen_id: citizen_id.as_str().to_owned(),
                        name: "测试".into(),
                        phone: PHONE.into(),
                        password: PASSWORD.into(),
                    },
                    now_millis(),
                )
                .await?;
            accounts.deliver().await?;
            let sent = DevelopmentChannel::new(store.clone())
                .messages_to(PHONE)
                .await?;
            let body = &sent.last().ok_or("no code sent")?.body;
            let at = body.find(|c: char| c.is_ascii_digit()).ok_or("no code")?;
            accounts
                .confirm_phone(&a.id, &body[at..at + 6], now_millis())
                .await?
        }
    };
    let (_, session) = Sessions::new(store.clone())
        .start(&account.id, Level::L1, &["pwd".into()], None, now_millis())
        .await?;
    Ok(session)
}

/// A fresh code and its verifier.
async fn code(
    provider: &Provider,
    client: &str,
    session: &Session,
    n: u64,
) -> Result<(String, String), Error> {
    let verifier = format!("bench-verifier-{n:0>40}-{}", now_millis());
    let params = AuthorizeParams {
        client_id: Some(client.into()),
        redirect_uri: Some(REDIRECT.into()),
        response_type: Some("code".into()),
        scope: Some("openid profile".into()),
        state: Some(format!("s{n}-{}", now_millis())),
        nonce: Some(format!("n{n}-{}", now_millis())),
        code_challenge: Some(B64.encode(Sha256::digest(verifier.as_bytes()))),
        code_challenge_method: Some("S256".into()),
        acr_values: None,
    };
    let pending = provider
        .authorize(&params, None, now_millis())
        .await
        .map_err(|e| format!("{e:?}"))?;
    let to = provider
        .approve(&pending.id, &pending.browser, session, now_millis())
        .await?;
    let url = url::Url::parse(&to)?;
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or("no code")?;
    Ok((code, verifier))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn prepare(data: &str, issuer: &str, count: u64, alg: &str, out: &str) -> Result<(), Error> {
    let alg = Alg::parse(alg).ok_or("ALG is RS256 or EdDSA")?;
    let (store, provider) = open(data, issuer).await?;
    let (client, secret) = client(data, &provider, alg).await?;
    let session = session(&store, &provider).await?;
    // Four makers at once: a code lives a minute, so they must be ready quickly.
    let started = Instant::now();
    let makers = 4;
    let mut tasks = Vec::new();
    for m in 0..makers {
        let (provider, client, secret, session) = (
            provider.clone(),
            client.clone(),
            secret.clone(),
            session.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut bodies = Vec::new();
            for n in (m..count).step_by(makers as usize) {
                let (code, verifier) = code(&provider, &client, &session, n)
                    .await
                    .map_err(|e| e.to_string())?;
                bodies.push(form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", &verifier),
                    ("client_id", &client),
                    ("client_secret", &secret),
                ]));
            }
            Ok::<Vec<String>, String>(bodies)
        }));
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    for t in tasks {
        for body in t.await?? {
            writeln!(file, "{body}")?;
        }
    }
    file.flush()?;
    eprintln!(
        "{count} codes for {client} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

async fn token(data: &str, issuer: &str) -> Result<(), Error> {
    let (store, provider) = open(data, issuer).await?;
    let (client, secret) = client(data, &provider, Alg::EdDsa).await?;
    let session = session(&store, &provider).await?;
    let (code, verifier) = code(&provider, &client, &session, 0).await?;
    let request = TokenRequest {
        grant_type: Some("authorization_code".into()),
        code: Some(code),
        redirect_uri: Some(REDIRECT.into()),
        code_verifier: Some(verifier),
        ..Default::default()
    };
    let auth = ClientAuth {
        id: Some(client),
        secret: Some(secret),
    };
    let answer = provider.token(&request, &auth, now_millis()).await?;
    println!("{}", answer.access_token);
    store.close().await;
    Ok(())
}

async fn logins(seconds: u64) -> Result<(), Error> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_str().ok_or("a UTF-8 path")?.to_owned();
    let (store, provider) = open(&data, "http://127.0.0.1:9").await?;
    session(&store, &provider).await?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let accounts = provider.accounts().clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let credentials = Credentials {
                phone: PHONE.into(),
                password: PASSWORD.into(),
                ..Default::default()
            };
            while Instant::now() < deadline {
                accounts
                    .login(&credentials, now_millis())
                    .await
                    .map_err(|e| e.to_string())?;
                n += 1;
            }
            Ok::<u64, String>(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "password logins: {:.1}/s ({total} in {secs:.1} s on {workers} workers), Argon2id m={} KiB, t={}, p={}",
        total as f64 / secs,
        password::MEMORY_KIB,
        password::PASSES,
        password::LANES
    );
    store.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        [_, "prepare", data, issuer, count, alg, out] => prepare(data, issuer, count.parse()?, alg, out).await,
        [_, "token", data, issuer] => token(data, issuer).await,
        [_, "logins", seconds] => logins(seconds.parse()?).await,
        _ => Err("usage: bench_identity prepare DATA ISSUER COUNT ALG OUT | token DATA ISSUER | logins SECONDS".into()),
    }
}
