//! The identity provider over loopback for the OpenID Connect tests: an exchange over the small
//! synthetic province (so the real-name check is a real, recorded read), the provider and its
//! pages served on a free port, a browser that keeps cookies, and an HTTP client for the
//! `openidconnect` relying party.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;

use errandless_identity::provider::Alg;
pub use errandless_identity::testing::resident;
use errandless_identity::testing::verifying_exchange;
use errandless_identity::{
    Accounts, DevelopmentChannel, Level, NewClient, Outbox, Provider, Secret, Sessions,
};
use errandless_ledger::{NoteSigner, ALG_ED25519};
use errandless_server::IdentityService;
use errandless_store::Store;

pub const PASSWORD: &str = "correct horse battery staple";
pub const CLIENT: &str = "benefits-app";
pub const EDDSA_CLIENT: &str = "school-app";
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const AFTER_LOGOUT: &str = "http://127.0.0.1:9/bye";

pub struct Idp {
    pub base: String,
    pub provider: Provider,
    pub channel: DevelopmentChannel,
    pub secret: String,
    pub eddsa_secret: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _ledger: tempfile::TempDir,
}

impl Idp {
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

pub async fn start(store: Store) -> Idp {
    start_on(store, "127.0.0.1").await
}

/// The provider with its issuer at `host` (which must resolve to 127.0.0.1): `localhost` for
/// passkeys, which WebAuthn refuses on an IP address.
pub async fn start_on(store: Store, host: &str) -> Idp {
    start_as(store, "http", host).await
}

/// The provider with its issuer `scheme://host:port`, served over plain http all the same
/// (`base` is always http): `https` shows what a deployment behind TLS sends.
pub async fn start_as(store: Store, scheme: &str, host: &str) -> Idp {
    let ledger = tempfile::tempdir().expect("temp dir");
    let (exchange, registry) =
        verifying_exchange(&store, ledger.path(), "ledger.example.gov/oidc-test").await;
    // The data tracker lists decisions beside reads, as `errandless serve` migrates for it.
    errandless_policy::enactment::migrate(&store)
        .await
        .expect("the policy tables");
    let config = errandless_server::ServerConfig {
        ledger_dir: ledger.path().to_owned(),
        ledger_verifier: NoteSigner::from_seed(
            "ledger.example.gov/oidc-test",
            ALG_ED25519,
            [9; 32],
        )
        .expect("a log key")
        .verifier(),
        datacenter_dir: ledger.path().join("datacenter"),
        operator_token: None,
        g2p: None,
    };

    let channel = DevelopmentChannel::new(store.clone());
    let outbox = Outbox::new(store.clone(), Arc::new(channel.clone()));
    let secret = Secret::load_or_create(&store).await.expect("secret");
    let accounts = Accounts::new(store.clone(), outbox, secret.clone());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let port = listener.local_addr().expect("an address").port();
    let base = format!("http://{host}:{port}");
    let now = errandless_identity::now_millis();
    let issuer = format!("{scheme}://{host}:{port}");
    let provider = Provider::open(store.clone(), &issuer, accounts, secret, now)
        .await
        .expect("provider");
    let mut secrets = Vec::new();
    for (id, alg) in [(CLIENT, Alg::Rs256), (EDDSA_CLIENT, Alg::EdDsa)] {
        let (_, secret) = provider
            .clients()
            .add(
                &NewClient {
                    id: id.into(),
                    name: format!("{id} 测试应用"),
                    purpose: "发放教育资助 / paying education subsidies".into(),
                    redirect_uris: vec![REDIRECT.into()],
                    post_logout_redirect_uris: vec![AFTER_LOGOUT.into()],
                    scopes: vec!["profile".into(), "phone".into(), "citizen_id".into()],
                    confidential: true,
                    id_token_alg: alg,
                    min_level: Level::L2,
                },
                now,
            )
            .await
            .expect("client added");
        secrets.push(secret.expect("a confidential client has a secret"));
    }
    let service = IdentityService::new(provider.clone(), Sessions::new(store), Some(registry));
    // Everything, as `errandless serve` mounts it: the tracker answers signed-in citizens,
    // and the portal, the console and the registration API are there too.
    let router = errandless_server::router_with_portal(
        exchange,
        config,
        Arc::new(service),
        errandless_server::PortalOptions::default(),
    )
    .await
    .expect("the portal starts");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(errandless_server::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    Idp {
        base,
        provider,
        channel,
        eddsa_secret: secrets.pop().expect("two"),
        secret: secrets.pop().expect("two"),
        stop: Some(stop),
        task,
        _ledger: ledger,
    }
}

/// An answer, with what the tests look at.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Answer {
    /// The value of a hidden form field on the page.
    pub fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').expect("closing quote") + start;
        self.body[start..end].to_owned()
    }

    /// A query parameter of the redirect.
    pub fn param(&self, name: &str) -> Option<String> {
        let location = self.location.as_deref()?;
        let url = url_of(location);
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn url_of(location: &str) -> openidconnect::url::Url {
    openidconnect::url::Url::parse(location)
        .or_else(|_| openidconnect::url::Url::parse(&format!("http://local{location}")))
        .expect("a URL")
}

/// A browser: it keeps cookies, follows no redirects, and says where it posts from.
pub struct Browser {
    pub base: String,
    /// The cookies of the base URL's host.
    pub cookies: BTreeMap<String, String>,
    /// Other hosts' cookies (cookies are per host, whatever the port).
    others: BTreeMap<String, BTreeMap<String, String>>,
    agent: ureq::Agent,
}

impl Browser {
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            others: BTreeMap::new(),
            agent: ureq::AgentBuilder::new().redirects(0).build(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    fn host_of(url: &str) -> String {
        url_of(url).host_str().unwrap_or_default().to_owned()
    }

    fn jar(&mut self, url: &str) -> &mut BTreeMap<String, String> {
        let host = Self::host_of(url);
        if host == Self::host_of(&self.base) {
            &mut self.cookies
        } else {
            self.others.entry(host).or_default()
        }
    }

    fn cookie_header(&mut self, url: &str) -> String {
        self.jar(url)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, url: &str, result: Result<ureq::Response, ureq::Error>) -> Answer {
        let response = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("transport: {e}"),
        };
        let set_cookies: Vec<String> = response
            .all("set-cookie")
            .into_iter()
            .map(str::to_owned)
            .collect();
        let jar = self.jar(url);
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || c.contains("Max-Age=0") {
                    jar.remove(k);
                } else {
                    jar.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        let status = response.status();
        let location = response.header("location").map(str::to_owned);
        let body = response.into_string().unwrap_or_default();
        Answer {
            status,
            location,
            set_cookies,
            body,
        }
    }

    pub fn get(&mut self, path: &str) -> Answer {
        let url = self.url(path);
        let cookies = self.cookie_header(&url);
        let r = self.agent.get(&url).set("cookie", &cookies).call();
        self.take(&url, r)
    }

    pub fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        self.post_from(path, form, None)
    }

    /// Posts a form as a page of `origin` would (None: no Origin header).
    pub fn post_from(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Answer {
        let url = self.url(path);
        let cookies = self.cookie_header(&url);
        let mut request = self.agent.post(&url).set("cookie", &cookies);
        if let Some(origin) = origin {
            request = request.set("origin", origin);
        }
        let r = request.send_form(form);
        self.take(&url, r)
    }

    /// Posts JSON with the browser's cookies, as a page of `origin` would.
    pub fn post_json_from(
        &mut self,
        path: &str,
        body: serde_json::Value,
        origin: Option<&str>,
    ) -> Answer {
        let url = self.url(path);
        let cookies = self.cookie_header(&url);
        let mut request = self
            .agent
            .post(&url)
            .set("cookie", &cookies)
            .set("content-type", "application/json");
        if let Some(origin) = origin {
            request = request.set("origin", origin);
        }
        let r = request.send_string(&body.to_string());
        self.take(&url, r)
    }

    pub fn post_json(&mut self, path: &str, body: serde_json::Value) -> Answer {
        let url = self.url(path);
        let r = self
            .agent
            .post(&url)
            .set("content-type", "application/json")
            .send_string(&body.to_string());
        self.take(&url, r)
    }
}

/// The `openidconnect` crate's HTTP client, over ureq with no redirects.
pub fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, std::io::Error> {
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let mut r = agent.request(request.method().as_str(), &request.uri().to_string());
    for (name, value) in request.headers() {
        r = r.set(
            name.as_str(),
            value.to_str().map_err(std::io::Error::other)?,
        );
    }
    let response = match r.send_bytes(request.body()) {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    };
    let mut builder = openidconnect::http::Response::builder().status(response.status());
    for name in response.headers_names() {
        if let Some(value) = response.header(&name) {
            builder = builder.header(name.as_str(), value);
        }
    }
    let mut body = Vec::new();
    response.into_reader().read_to_end(&mut body)?;
    builder.body(body).map_err(std::io::Error::other)
}

/// Registers the `n`-th resident through the HTTP API and confirms the phone with the code the
/// development channel carried; the real-name check runs then, so the account is at L2.
pub fn register(
    browser: &mut Browser,
    channel: &DevelopmentChannel,
    n: usize,
    phone: &str,
) -> String {
    let (citizen_id, name) = resident(n);
    let made = browser.post_json(
        "/account/register",
        serde_json::json!({ "citizen_id": citizen_id, "name": name, "phone": phone, "password": PASSWORD }),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    let account: serde_json::Value = serde_json::from_str(&made.body).expect("JSON");
    let account_id = account["account_id"].as_str().expect("an id").to_owned();
    let messages = tokio::runtime::Handle::current()
        .block_on(channel.messages_to(phone))
        .expect("messages");
    let body = &messages.last().expect("a code was sent").body;
    let at = body.find(|c: char| c.is_ascii_digit()).expect("a code");
    let confirmed = browser.post_json(
        "/account/confirm",
        serde_json::json!({ "account_id": account_id, "code": &body[at..at + 6] }),
    );
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert!(confirmed.body.contains("\"L2\""), "{}", confirmed.body);
    account_id
}

/// Drives the browser from an authorisation URL through login and consent to the redirect
/// back to the app, and returns that last answer.
pub fn log_in(browser: &mut Browser, authorize_url: &str, phone: &str) -> Answer {
    let page = browser.get(authorize_url);
    assert_eq!(page.status, 200, "{}", page.body);
    let request = page.field("request");
    let token = page.field("form_token");
    let logged_in = browser.post(
        "/oauth/login",
        &[
            ("request", &request),
            ("form_token", &token),
            ("phone", phone),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(logged_in.status, 303, "{}", logged_in.body);
    consent(browser, logged_in.location.as_deref().expect("to consent"))
}

/// Allows on the consent page at `path`.
pub fn consent(browser: &mut Browser, path: &str) -> Answer {
    let page = browser.get(path);
    assert_eq!(page.status, 200, "{}", page.body);
    let request = page.field("request");
    let token = page.field("form_token");
    browser.post(
        "/oauth/consent",
        &[
            ("request", &request),
            ("form_token", &token),
            ("decision", "allow"),
        ],
    )
}
