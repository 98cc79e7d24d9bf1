//! `errandless serve`: the HTTP server over the data directory's store, islands and ledger.
//!
//! Owners' answers are signed with the member keys found in `<data>/members/<id>.key` (as
//! written by `errandless member add`) that match the member's current key. The data tracker
//! answers signed-in citizens about their own records, auditors about their division, and the
//! operator's `ERRANDLESS_OPERATOR_TOKEN` when one is set.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use errandless_exchange::{Exchange, Islands, IslandsConfig, Members};
use errandless_ledger::Sequencer;
use errandless_server::ServerConfig;
use errandless_store::Store;

use crate::config::Settings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "ERRANDLESS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The OpenID Connect issuer: the public base URL of this server (default: http://LISTEN).
    #[arg(long, env = "ERRANDLESS_ISSUER", value_name = "URL")]
    issuer: Option<String>,
    /// The member the identity service reads household registration as, for the real-name
    /// check; its key must be in <data>/members/.
    #[arg(
        long,
        env = "ERRANDLESS_IDENTITY_MEMBER",
        default_value = "data_bureau"
    )]
    identity_member: String,
    /// Another region's provider whose citizens may log in here: NAME,ISSUER,CLIENT_ID,LEVEL
    /// (LEVEL is the highest level taken from it). The client secret this installation holds
    /// there comes from ERRANDLESS_UPSTREAM_SECRET_<NAME> (upper case, '-' as '_'). Repeat for
    /// more.
    #[arg(long = "upstream", value_name = "NAME,ISSUER,CLIENT_ID,LEVEL")]
    upstreams: Vec<String>,
}

/// The upstream named by a `--upstream` value, with its secret from the environment.
fn upstream(spec: &str) -> anyhow::Result<errandless_identity::Upstream> {
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    let [name, issuer, client_id, level] = parts.as_slice() else {
        anyhow::bail!("--upstream {spec:?} is not NAME,ISSUER,CLIENT_ID,LEVEL");
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        anyhow::bail!("the upstream name {name:?} must be letters, digits and '-'");
    }
    let var = format!(
        "ERRANDLESS_UPSTREAM_SECRET_{}",
        name.to_ascii_uppercase().replace('-', "_")
    );
    let client_secret = std::env::var(&var)
        .with_context(|| format!("the client secret for upstream {name} is not in {var}"))?;
    Ok(errandless_identity::Upstream {
        name: (*name).to_owned(),
        issuer: (*issuer).to_owned(),
        client_id: (*client_id).to_owned(),
        client_secret,
        max_level: level
            .parse()
            .with_context(|| format!("in --upstream {spec:?}"))?,
    })
}

/// The islands' connectors: `<data>/islands.toml` if present, else the synthetic province's.
/// Relative locations are taken from the data directory.
fn islands_config(data: &Path) -> anyhow::Result<IslandsConfig> {
    let path = data.join("islands.toml");
    if path.is_file() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("while reading {}", path.display()))?;
        IslandsConfig::parse(&text).with_context(|| format!("in {}", path.display()))
    } else {
        Ok(IslandsConfig::synthetic(Path::new("")))
    }
}

pub fn run(args: ServeArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("errandless-http")
        .build()
        .context("while starting the async runtime")?;
    runtime.block_on(async {
        let opened = open(args, settings).await?;
        serve(opened).await
    })?;
    Ok(ExitCode::SUCCESS)
}

impl ServeArgs {
    /// Serving on `listen` with every other setting at its default (what the demo serves).
    pub(crate) fn on(listen: SocketAddr) -> ServeArgs {
        ServeArgs {
            listen,
            issuer: None,
            identity_member: "data_bureau".to_owned(),
            upstreams: Vec::new(),
        }
    }
}

/// A server ready to serve: everything opened, the port bound.
pub(crate) struct Opened {
    /// The identity member and its key: the portal's prefill reads, the demo's lookups.
    pub prefill_as: Option<(String, ed25519_dalek::SigningKey)>,
    pub store: Store,
    pub exchange: Arc<Exchange>,
    pub identity: Arc<errandless_server::IdentityService>,
    /// Policies simulated and enacted from the console.
    decider: Option<Arc<errandless_server::Decider>>,
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    pub addr: SocketAddr,
}

/// Opens the store, islands, ledger and identity provider, and binds the address.
pub(crate) async fn open(args: ServeArgs, settings: &Settings) -> anyhow::Result<Opened> {
    let data = &settings.data;
    let store = settings.open_store().await?;
    errandless_exchange::migrate(&store)
        .await
        .context("while preparing the exchange's tables")?;
    // The data tracker lists the decisions recorded about a citizen beside the reads.
    errandless_policy::enactment::migrate(&store)
        .await
        .context("while preparing the policy tables")?;
    let islands = Islands::open(&islands_config(data)?, data)
        .await
        .context("while opening the islands (generate a province with `errandless demo`)")?;
    let log_dir = data.join("ledger");
    let signer = crate::ledger_cmd::load_signer(&log_dir)?;
    let verifier = signer.verifier();
    let subject_key = crate::ledger_cmd::load_subject_key(&log_dir)?;
    let ledger = Sequencer::open(&log_dir, signer)
        .with_context(|| format!("while opening the ledger {}", log_dir.display()))?;
    let mut exchange =
        Exchange::new(store.clone(), islands, ledger, subject_key).with_clock(settings.clock);
    for member in Members::new(store.clone())
        .list()
        .await
        .context("while listing the members")?
    {
        let path = crate::member_cmd::default_key_file(data, &member.id);
        if !path.is_file() {
            continue;
        }
        let key = crate::member_cmd::read_key_file(&path)?;
        if key.verifying_key() == member.key {
            exchange.add_owner_key(&member.id, key);
        } else {
            tracing::warn!(member = %member.id, path = %path.display(), "the key file is not the member's current key; its answers cannot be signed");
        }
    }
    let config = ServerConfig {
        ledger_dir: log_dir,
        ledger_verifier: verifier,
        datacenter_dir: data.join(errandless_exchange::DATACENTER_DIR),
        operator_token: std::env::var("ERRANDLESS_OPERATOR_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty()),
        // The paying member follows its files through the G2P API, scoped to the province.
        g2p: Some(errandless_server::G2pAccess {
            payer: crate::pay_cmd::payer(settings).member,
            tenant: settings.province_division(),
        }),
    };
    let exchange = Arc::new(exchange);
    let decider = console_decider(settings, &store, &exchange).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("while binding {}", args.listen))?;
    let addr = listener
        .local_addr()
        .context("while reading the bound address")?;
    let issuer = args
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let upstreams = args
        .upstreams
        .iter()
        .map(|u| upstream(u))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let identity = identity_service(
        &store,
        &exchange,
        data,
        &issuer,
        &args.identity_member,
        upstreams,
    )
    .await?;
    // The portal fills forms as the identity member, with the prefill grants it holds.
    let key_file = crate::member_cmd::default_key_file(data, &args.identity_member);
    let prefill_as = if key_file.is_file() {
        Some((
            args.identity_member.clone(),
            crate::member_cmd::read_key_file(&key_file)?,
        ))
    } else {
        None
    };
    Ok(Opened {
        prefill_as,
        decider,
        store,
        exchange,
        identity: Arc::new(identity),
        config,
        listener,
        addr,
    })
}

/// The console's decider: the data center's member deciding, with the exchange's ledger. A
/// [payments] configuration the bank would refuse leaves the console unable to enact, and says
/// so, rather than stopping the server.
async fn console_decider(
    settings: &Settings,
    store: &Store,
    exchange: &Exchange,
) -> anyhow::Result<Option<Arc<errandless_server::Decider>>> {
    errandless_payments::migrate(store)
        .await
        .context("while preparing the payments tables")?;
    let payer = match crate::pay_cmd::checked_payer(settings) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "the console will not run policies");
            return Ok(None);
        }
    };
    let decider = errandless_server::Decider::new(
        store.clone(),
        exchange.ledger(),
        exchange.subject_key().clone(),
        payer,
        settings.data.join(errandless_exchange::DATACENTER_DIR),
        crate::sync_cmd::DATA_CENTER_MEMBER,
        &crate::enact::jurisdiction(settings),
    )
    .await
    .context("while opening the decisions and payments for the console")?
    .with_clock(settings.clock)
    .with_payment_files(crate::pay_cmd::payment_files(settings));
    Ok(Some(Arc::new(decider)))
}

/// Serves the API, the provider, the portal and the console until Ctrl-C.
pub(crate) async fn serve(opened: Opened) -> anyhow::Result<()> {
    let Opened {
        prefill_as,
        decider,
        store,
        exchange,
        identity,
        config,
        listener,
        addr,
    } = opened;
    let options = errandless_server::PortalOptions {
        prefill_as,
        decider,
    };
    let router = errandless_server::router_with_portal(exchange, config, identity, options)
        .await
        .context("while starting the portal")?;
    eprintln!("listening on http://{addr}");
    // On a worker, not on this thread, which only waits: the runtime's workers do all the
    // work, connections and accept loop alike.
    tokio::spawn(errandless_server::serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("shutting down");
    }))
    .await
    .context("the server task failed")?
    .context("while serving")?;
    store.close().await;
    Ok(())
}

/// The identity provider of `issuer`. Phone codes go out through the development channel
/// (a table and the log) until a real SMS channel is configured.
async fn identity_service(
    store: &Store,
    exchange: &Arc<Exchange>,
    data: &Path,
    issuer: &str,
    member: &str,
    upstreams: Vec<errandless_identity::Upstream>,
) -> anyhow::Result<errandless_server::IdentityService> {
    use errandless_identity::{
        Accounts, DevelopmentChannel, Outbox, Provider, Registry, Secret, Sessions,
    };
    errandless_identity::migrate(store)
        .await
        .context("while preparing the identity tables")?;
    let secret = Secret::load_or_create(store)
        .await
        .context("while reading the identity secret")?;
    let outbox = Outbox::new(
        store.clone(),
        Arc::new(DevelopmentChannel::new(store.clone())),
    );
    let accounts = Accounts::new(store.clone(), outbox, secret.clone());
    let federation = (!upstreams.is_empty()).then(|| {
        errandless_identity::Federation::new(store.clone(), accounts.clone(), issuer, upstreams)
    });
    let provider = Provider::open(
        store.clone(),
        issuer,
        accounts,
        secret,
        errandless_identity::now_millis(),
    )
    .await
    .context("while opening the OpenID Connect provider")?;
    let key_file = crate::member_cmd::default_key_file(data, member);
    let registry = if key_file.is_file() {
        let key = crate::member_cmd::read_key_file(&key_file)?;
        Some(Registry::new(Arc::clone(exchange), member, key))
    } else {
        tracing::warn!(
            member,
            "no key for the identity member: accounts stay at level L1 without the real-name check"
        );
        None
    };
    // Every minute: signing keys again from the store (a rotation by `errandless client
    // rotate-keys` counts within a minute); every ten: expired rows swept.
    let sweeper = provider.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        for tick in 0u64.. {
            every.tick().await;
            let now = errandless_identity::now_millis();
            if let Err(e) = sweeper.keys().reload(now).await {
                tracing::warn!(error = %e, "the signing keys could not be reloaded");
            }
            if tick % 10 == 0 {
                if let Err(e) = sweeper.sweep(now).await {
                    tracing::warn!(error = %e, "expired identity rows could not be swept");
                }
            }
        }
    });
    let service =
        errandless_server::IdentityService::new(provider, Sessions::new(store.clone()), registry);
    Ok(match federation {
        Some(f) => service.with_federation(f),
        None => service,
    })
}
