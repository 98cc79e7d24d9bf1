//! Two regions on loopback: region B trusts region A as an upstream provider. A citizen of A
//! logs in to an app of B with A's identity; B links a local account, carries the level of
//! assurance over, and signs its own ID token for its app. A forged or replayed return from
//! the upstream is refused.

mod common;

use std::sync::Arc;

use common::{register, resident, start, Answer, Browser, PASSWORD, REDIRECT};
use errandless_identity::provider::Alg;
use errandless_identity::{
    Accounts, DevelopmentChannel, Federation, Level, NewClient, Outbox, Provider, Secret, Sessions,
    Upstream,
};
use errandless_server::IdentityService;
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use openidconnect::PkceCodeChallenge;

const UPSTREAM: &str = "province-a";
const B_APP: &str = "b-app";

struct RegionB {
    base: String,
    app_secret: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

/// Region B on 127.0.0.2 (another host, so the two regions' cookies stay apart), trusting the
/// provider at `a_base` as `province-a`; the client B holds there is registered by `register`.
async fn region_b(a: &Provider) -> RegionB {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("b.sqlite").to_str().unwrap())
        .await
        .unwrap();
    errandless_identity::migrate(&store).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
        .await
        .expect("127.0.0.2 binds");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let now = errandless_identity::now_millis();
    let (_, upstream_secret) = a
        .clients()
        .add(
            &NewClient {
                id: "region-b".into(),
                name: "Region B".into(),
                purpose: "logging in to region B's services".into(),
                redirect_uris: vec![format!("{base}/federation/{UPSTREAM}/callback")],
                post_logout_redirect_uris: vec![],
                scopes: vec!["profile".into(), "phone".into(), "citizen_id".into()],
                confidential: true,
                id_token_alg: Alg::Rs256,
                min_level: Level::L1,
            },
            now,
        )
        .await
        .unwrap();
    let secret = Secret::load_or_create(&store).await.unwrap();
    let outbox = Outbox::new(
        store.clone(),
        Arc::new(DevelopmentChannel::new(store.clone())),
    );
    let accounts = Accounts::new(store.clone(), outbox, secret.clone());
    let provider = Provider::open(store.clone(), &base, accounts.clone(), secret, now)
        .await
        .unwrap();
    let (_, app_secret) = provider
        .clients()
        .add(
            &NewClient {
                id: B_APP.into(),
                name: "B 区办事".into(),
                purpose: "handling applications".into(),
                redirect_uris: vec![REDIRECT.into()],
                post_logout_redirect_uris: vec![],
                scopes: vec!["profile".into()],
                confidential: true,
                id_token_alg: Alg::EdDsa,
                min_level: Level::L2,
            },
            now,
        )
        .await
        .unwrap();
    let federation = Federation::new(
        store.clone(),
        accounts,
        &base,
        vec![Upstream {
            name: UPSTREAM.into(),
            issuer: a.issuer().to_owned(),
            client_id: "region-b".into(),
            client_secret: upstream_secret.unwrap(),
            max_level: Level::L2,
        }],
    );
    let service =
        IdentityService::new(provider, Sessions::new(store), None).with_federation(federation);
    let router = errandless_server::identity_router(Arc::new(service));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(errandless_server::serve(listener, router, async move {
        let _ = stopped.await;
    }));
    RegionB {
        base,
        app_secret: app_secret.unwrap(),
        stop,
        task,
        _dir: dir,
    }
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{base}{location}")
    }
}

/// B's app sends the browser to B; the citizen chooses region A and comes back with a code.
fn through_a(browser: &mut Browser, a: &str, b: &str, phone: &str) -> (Answer, String, String) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = PkceCodeChallenge::new_random_sha256().1.secret().clone();
    let page = browser.get(&format!(
        "{b}/oauth/authorize?response_type=code&client_id={B_APP}&redirect_uri={REDIRECT}&scope=openid%20profile&state=st-{nonce}&nonce={nonce}&code_challenge={}&code_challenge_method=S256",
        challenge.as_str()
    ));
    assert_eq!(page.status, 200, "{}", page.body);
    let link = format!(
        "/federation/{UPSTREAM}/start?request={}",
        page.field("request")
    );
    assert!(
        page.body.contains(&link),
        "B offers region A: {}",
        page.body
    );
    let to_a = browser.get(&format!("{b}{link}"));
    assert_eq!(to_a.status, 303, "{}", to_a.body);
    let at_a = to_a.location.clone().unwrap();
    assert!(at_a.starts_with(a), "{at_a}");
    let mut answer = browser.get(&at_a);
    if answer.status == 200 && answer.body.contains("name=\"password\"") {
        let logged_in = browser.post(
            &format!("{a}/oauth/login"),
            &[
                ("request", &answer.field("request")),
                ("form_token", &answer.field("form_token")),
                ("phone", phone),
                ("password", PASSWORD),
            ],
        );
        assert_eq!(logged_in.status, 303, "{}", logged_in.body);
        answer = browser.get(&absolute(a, logged_in.location.as_deref().unwrap()));
    }
    if answer.status == 200 {
        answer = browser.post(
            &format!("{a}/oauth/consent"),
            &[
                ("request", &answer.field("request")),
                ("form_token", &answer.field("form_token")),
                ("decision", "allow"),
            ],
        );
    }
    assert_eq!(answer.status, 303, "{}", answer.body);
    let callback = answer.location.clone().unwrap();
    assert!(
        callback.starts_with(&format!("{b}/federation/{UPSTREAM}/callback")),
        "{callback}"
    );
    let back = browser.get(&callback);
    (back, verifier.secret().clone(), callback)
}

fn walk(a: String, b: String, app_secret: String, channel: DevelopmentChannel) {
    let mut browser = Browser::new(&a);
    register(&mut browser, &channel, 20, "13800000020");
    let (_, name) = resident(20);

    let (back, verifier, callback) = through_a(&mut browser, &a, &b, "13800000020");
    assert_eq!(back.status, 303, "{}", back.body);
    let consent_page = browser.get(&absolute(&b, back.location.as_deref().unwrap()));
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    let done = browser.post(
        &format!("{b}/oauth/consent"),
        &[
            ("request", &consent_page.field("request")),
            ("form_token", &consent_page.field("form_token")),
            ("decision", "allow"),
        ],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let code = done.param("code").expect("B's code");
    let token = |browser: &mut Browser, code: &str, verifier: &str| {
        let t = browser.post(
            &format!("{b}/oauth/token"),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
                ("client_id", B_APP),
                ("client_secret", &app_secret),
            ],
        );
        assert_eq!(t.status, 200, "{}", t.body);
        serde_json::from_str::<serde_json::Value>(&t.body).unwrap()
    };
    let tokens = token(&mut browser, &code, &verifier);
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    let payload = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["iss"], b.as_str(), "B signs for its own app");
    assert_eq!(claims["acr"], "L2", "A's level is carried over");
    assert_eq!(claims["amr"], serde_json::json!(["fed"]));
    let info = ureq::get(&format!("{b}/oauth/userinfo"))
        .set(
            "authorization",
            &format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
        )
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(
        info["name"],
        name.as_str(),
        "B's local account has A's checked name"
    );
    assert_eq!(info["sub"], claims["sub"]);

    // Replaying A's return to B is refused: the state worked once. So is a made-up one, and
    // a return in a browser that did not begin the login.
    let replayed = browser.get(&callback);
    assert_eq!(replayed.status, 403, "{}", replayed.body);
    let forged = browser.get(&format!(
        "{b}/federation/{UPSTREAM}/callback?code=x&state=forged"
    ));
    assert_eq!(forged.status, 403, "{}", forged.body);
    let mut stranger = Browser::new(&b);
    assert_eq!(stranger.get(&callback).status, 400, "no flow cookie");

    // B's session is alive, so the next login at B goes straight to its app; a new browser
    // goes through A again and lands on the same local account (the link holds).
    let mut second = Browser::new(&a);
    let (back, verifier, _) = through_a(&mut second, &a, &b, "13800000020");
    let consent_page = second.get(&absolute(&b, back.location.as_deref().unwrap()));
    let done = second.post(
        &format!("{b}/oauth/consent"),
        &[
            ("request", &consent_page.field("request")),
            ("form_token", &consent_page.field("form_token")),
            ("decision", "allow"),
        ],
    );
    let again = token(&mut second, &done.param("code").unwrap(), &verifier);
    let payload = again["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    let again: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    assert_eq!(again["sub"], claims["sub"], "the same local account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_of_region_a_logs_in_to_region_b() {
    for_each_backend(|store| async move {
        let a = start(store).await;
        let b = region_b(&a.provider).await;
        let (a_base, b_base, secret, channel) = (
            a.base.clone(),
            b.base.clone(),
            b.app_secret.clone(),
            a.channel.clone(),
        );
        tokio::task::spawn_blocking(move || walk(a_base, b_base, secret, channel))
            .await
            .expect("the walk passes");
        let _ = b.stop.send(());
        let _ = b.task.await;
        a.stop().await;
    })
    .await;
}
