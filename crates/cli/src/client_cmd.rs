//! `errandless client`: register the apps that log citizens in through the OpenID Connect
//! provider, and list them. A confidential client's secret is printed once and only its hash
//! is stored.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Subcommand;
use errandless_identity::provider::Alg;
use errandless_identity::{Clients, Level, NewClient};

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register an app: its redirect URIs are matched exactly, its purpose is shown to the
    /// citizen on the consent screen.
    Add {
        /// The client id: letters, digits, '-', '_' and '.'.
        #[arg(long, value_name = "ID")]
        id: String,
        /// The app's name, as the consent screen shows it.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Why the app asks for the citizen's data.
        #[arg(long, value_name = "TEXT")]
        purpose: String,
        /// A redirect URI (https, or http on loopback); repeat for more.
        #[arg(long = "redirect-uri", value_name = "URI", required = true)]
        redirect_uris: Vec<String>,
        /// Where RP-initiated logout may send the browser; repeat for more.
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// A scope it may ask for besides openid: profile, phone, citizen_id; repeat for more.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A public client (a phone app): no secret, PKCE alone.
        #[arg(long)]
        public: bool,
        /// The algorithm of its ID tokens: RS256 or EdDSA.
        #[arg(long, value_name = "ALG", default_value = "RS256")]
        alg: String,
        /// The level of assurance its users need: L1, L2 or L3.
        #[arg(long, value_name = "LEVEL", default_value = "L2")]
        level: String,
    },
    /// List the registered clients.
    List,
    /// Make new ID-token signing keys; the old ones stay in the JWKS for a day, and a running
    /// server takes the new ones within a minute.
    RotateKeys,
}

pub fn run(cmd: ClientCommand, settings: &Settings) -> anyhow::Result<ExitCode> {
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let store = settings.open_store().await?;
        errandless_identity::migrate(&store)
            .await
            .context("while preparing the identity tables")?;
        let clients = Clients::new(store.clone());
        let result = match cmd {
            ClientCommand::Add {
                id,
                name,
                purpose,
                redirect_uris,
                post_logout_redirect_uris,
                scopes,
                public,
                alg,
                level,
            } => {
                let id_token_alg =
                    Alg::parse(&alg).with_context(|| format!("{alg:?} is not RS256 or EdDSA"))?;
                let min_level: Level = level.parse()?;
                let new = NewClient {
                    id,
                    name,
                    purpose,
                    redirect_uris,
                    post_logout_redirect_uris,
                    scopes,
                    confidential: !public,
                    id_token_alg,
                    min_level,
                };
                let (client, secret) =
                    clients
                        .add(&new, errandless_identity::now_millis())
                        .await
                        .with_context(|| format!("while registering client {}", new.id))?;
                println!("client {} registered", client.id);
                if let Some(secret) = secret {
                    println!("client secret (shown once): {secret}");
                }
                Ok(())
            }
            ClientCommand::RotateKeys => {
                let now = errandless_identity::now_millis();
                let keys = errandless_identity::provider::Keys::open(store.clone(), now)
                    .await
                    .context("while reading the signing keys")?;
                keys.rotate(now)
                    .await
                    .context("while rotating the signing keys")?;
                for alg in errandless_identity::provider::Alg::ALL {
                    println!("{}\t{}", alg.name(), keys.signing(alg)?.kid);
                }
                Ok(())
            }
            ClientCommand::List => {
                let list = clients.list().await.context("while listing the clients")?;
                for c in list {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        c.id,
                        if c.confidential {
                            "confidential"
                        } else {
                            "public"
                        },
                        c.id_token_alg.name(),
                        c.min_level,
                        c.scopes.join(" "),
                        c.redirect_uris.join(" "),
                        c.name
                    );
                }
                Ok(())
            }
        };
        store.close().await;
        result.map(|()| ExitCode::SUCCESS)
    })
}
