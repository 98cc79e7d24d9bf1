//! The identity provider alone, for its benchmark on a release build of this crate only (the
//! whole `errandless` binary also builds the policy engine): `serve_identity DATA ISSUER
//! LISTEN` serves the provider's endpoints over DATA's platform store, as `errandless serve`
//! does, without the exchange, so accounts stay at L1.

use std::sync::Arc;

use errandless_identity::{Accounts, DevelopmentChannel, Outbox, Provider, Secret, Sessions};
use errandless_server::IdentityService;
use errandless_store::Store;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data, issuer, listen] = args.as_slice() else {
        return Err("usage: serve_identity DATA ISSUER LISTEN".into());
    };
    let store = Store::open(&Store::default_url(std::path::Path::new(data))).await?;
    errandless_identity::migrate(&store).await?;
    let secret = Secret::load_or_create(&store).await?;
    let outbox = Outbox::new(
        store.clone(),
        Arc::new(DevelopmentChannel::new(store.clone())),
    );
    let accounts = Accounts::new(store.clone(), outbox, secret.clone());
    let now = errandless_identity::now_millis();
    let provider = Provider::open(store.clone(), issuer, accounts, secret, now).await?;
    let service = IdentityService::new(provider, Sessions::new(store.clone()), None);
    let listener = tokio::net::TcpListener::bind(listen.as_str()).await?;
    eprintln!("listening on {listen}");
    let router = errandless_server::identity_router(Arc::new(service));
    // Until killed.
    tokio::spawn(errandless_server::serve(
        listener,
        router,
        std::future::pending::<()>(),
    ))
    .await??;
    store.close().await;
    Ok(())
}
