//! The server over loopback on both store backends: the read endpoint allows, refuses with
//! each code and signs; the tracker lists the reads with receipts the ledger's verifier
//! accepts; the OpenAPI document lists the paths; the metrics move; the ledger files are served.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use errandless_exchange::{
    migrate, Exchange, Grants, Islands, IslandsConfig, LegalBasis, LegalBasisKind, Members, Mode,
    NewMember, Purpose, ReadRequest, SignedResponse, Terms,
};
use errandless_ledger::{Entry, NoteSigner, Receipt, Sequencer, SubjectKey, ALG_ED25519};
use errandless_server::{
    DataUsage, ErrorBody, G2pAccess, ReadBody, ServerConfig, CLIENT_HEADER, CORRELATION_HEADER,
    PURPOSE_HEADER, REQUEST_HASH_HEADER, REQUEST_ID_HEADER, SIGNATURE_HEADER, TENANT_HEADER,
};
use errandless_standards::{DivisionCode, Uscc};
use errandless_store::testing::for_each_backend;
use errandless_store::Store;
use errandless_synth::testing::{pick, province};

const LOG_NAME: &str = "ledger.example.gov/server-test";
const TOKEN: &str = "operator-secret";
/// The province's division code, the G2P API's tenant.
const TENANT: &str = "520000";

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(LOG_NAME, ALG_ED25519, [9; 32]).expect("a log key")
}

const MEMBERS: [(&str, u8); 4] = [
    ("civil_affairs", 1),
    ("public_security", 2),
    ("finance", 3),
    ("education", 4),
];

struct Server {
    base: String,
    exchange: Arc<Exchange>,
    ledger_dir: tempfile::TempDir,
    inside: String,
    outside: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn approve(grants: &Grants, dataset: &str, fields: &[&str], until: i64, scope: Option<&str>) {
    let terms = Terms {
        consumer: "civil_affairs".into(),
        dataset: dataset.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: Purpose::BenefitEligibility,
        legal_basis: LegalBasis {
            kind: LegalBasisKind::AdministrativeRegulation,
            reference: "社会救助暂行办法 第十一条".into(),
        },
        valid_from: 0,
        valid_until: until,
        scope: scope.map(|s| DivisionCode::parse(s).expect("a division")),
        mode: Mode::PerSubject,
    };
    let owner = dataset.split('.').next().expect("a department");
    let request = grants.file(terms, 0).await.expect("files");
    grants
        .approve(&request.id, owner, 0)
        .await
        .expect("approves");
}

async fn start(store: Store) -> Server {
    migrate(&store).await.expect("migrations apply");
    errandless_policy::enactment::migrate(&store)
        .await
        .expect("the policy tables");
    let members = Members::new(store.clone());
    for (id, n) in MEMBERS {
        let new = NewMember {
            id: id.into(),
            uscc: Uscc::compose(b'1', b'1', 520000, u32::from(n)).to_string(),
            name_zh: format!("{id} 中文"),
            name_en: id.into(),
            key: key(n).verifying_key(),
        };
        members.register(new, 0).await.expect("registers");
    }
    let inside = pick(
        "public_security",
        "SELECT id_number FROM resident ORDER BY id_number LIMIT 1",
    );
    let outside = pick(
        "public_security",
        &format!(
            "SELECT id_number FROM resident WHERE substr(id_number, 1, 6) <> '{}' LIMIT 1",
            &inside[..6]
        ),
    );
    let grants = Grants::new(store.clone());
    let county = format!("{}000000", &inside[..6]);
    approve(
        &grants,
        "public_security.resident",
        &["name", "sex"],
        i64::MAX,
        Some(&county),
    )
    .await;
    approve(&grants, "finance.one_card", &["bank"], 5_000, None).await;

    let ledger_dir = tempfile::tempdir().expect("temp dir");
    let log = Sequencer::create(ledger_dir.path(), log_key()).expect("ledger created");
    let islands = Islands::open(&IslandsConfig::synthetic(province()), province())
        .await
        .expect("islands open");
    let mut exchange = Exchange::new(store, islands, log, SubjectKey::from_bytes([3; 32]));
    for (id, n) in MEMBERS {
        exchange.add_owner_key(id, key(n));
    }
    let config = ServerConfig {
        ledger_dir: ledger_dir.path().to_owned(),
        datacenter_dir: ledger_dir.path().join("datacenter"),
        ledger_verifier: log_key().verifier(),
        operator_token: Some(TOKEN.into()),
        g2p: Some(G2pAccess {
            payer: "finance".into(),
            tenant: TENANT.into(),
        }),
    };
    let exchange = Arc::new(exchange);
    let router = errandless_server::router(Arc::clone(&exchange), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(errandless_server::serve(listener, router, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        exchange,
        ledger_dir,
        inside,
        outside,
        stop: Some(stop),
        task,
    }
}

impl Server {
    /// Stops the server and waits for it to finish.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task)
            .await
            .expect("the server task")
            .expect("the server stops cleanly");
    }
}

/// A response's status, headers we look at, and body.
struct Reply {
    status: u16,
    hash: Option<String>,
    correlation: Option<String>,
    body: String,
}

async fn get(url: String, headers: Vec<(&'static str, String)>) -> Reply {
    tokio::task::spawn_blocking(move || {
        let mut req = ureq::get(&url);
        for (k, v) in &headers {
            req = req.set(k, v);
        }
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{url}: {e}"),
        };
        Reply {
            status: resp.status(),
            hash: resp.header(REQUEST_HASH_HEADER).map(str::to_owned),
            correlation: resp.header(CORRELATION_HEADER).map(str::to_owned),
            body: resp.into_string().expect("a text body"),
        }
    })
    .await
    .expect("the client thread")
}

fn request(id: &str, dataset: &str, subject: &str, fields: &[&str]) -> ReadRequest {
    ReadRequest {
        request_id: id.into(),
        consumer: "civil_affairs".into(),
        dataset: dataset.into(),
        subject: subject.into(),
        fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        purpose: Purpose::BenefitEligibility.code().into(),
    }
}

/// Sends `r` signed with `signer` over HTTP.
async fn read(s: &Server, r: &ReadRequest, signer: &SigningKey) -> Reply {
    let signed = r.clone().sign(signer);
    let url = format!(
        "{}/data/{}/1.0/read?subject={}&fields={}",
        s.base,
        r.dataset,
        r.subject,
        r.fields.join(",")
    );
    get(
        url,
        vec![
            (
                CLIENT_HEADER,
                format!("ERRANDLESS/GOV/{}/exchange", r.consumer),
            ),
            (PURPOSE_HEADER, r.purpose.clone()),
            (REQUEST_ID_HEADER, r.request_id.clone()),
            (SIGNATURE_HEADER, BASE64.encode(&signed.signature)),
        ],
    )
    .await
}

fn code_of(reply: &Reply) -> String {
    serde_json::from_str::<ErrorBody>(&reply.body)
        .unwrap_or_else(|e| panic!("{}: {e}", reply.body))
        .code
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_over_http_are_signed_refused_with_codes_tracked_and_counted() {
    for_each_backend(|store| async move {
        let mut s = start(store).await;

        // Allowed: the owner's signature verifies and binds the request's hash.
        let req = request(
            "r-1",
            "public_security.resident",
            &s.inside,
            &["name", "sex"],
        );
        let ok = read(&s, &req, &key(1)).await;
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert_eq!(ok.hash.as_deref(), Some(req.hash().as_str()));
        let body: ReadBody = serde_json::from_str(&ok.body).expect("a read body");
        let answer = SignedResponse {
            response: body.response,
            signature: BASE64.decode(&body.signature).expect("base64"),
        };
        assert!(answer.verify(&key(2).verifying_key(), &req));
        assert!(!answer.verify(&key(3).verifying_key(), &req));
        let mut other = req.clone();
        other.fields = vec!["name".into()];
        assert!(
            !answer.verify(&key(2).verifying_key(), &other),
            "the hash binds the request"
        );
        assert!(!body.content.is_empty());
        assert_eq!(body.content, answer.response.rows);
        for row in &body.content {
            assert_eq!(row.keys().collect::<Vec<_>>(), ["name", "sex"]);
        }

        // Each refusal, with its status and code.
        let cases: Vec<(ReadRequest, SigningKey, u16, &str)> = vec![
            (
                request("r-1", "public_security.resident", &s.inside, &["name"]),
                key(1),
                409,
                "replayed_request",
            ),
            (
                request("r-2", "public_security.resident", &s.inside, &["name"]),
                key(3),
                401,
                "bad_signature",
            ),
            (
                ReadRequest {
                    consumer: "tourism".into(),
                    ..request("r-3", "public_security.resident", &s.inside, &["name"])
                },
                key(1),
                401,
                "unknown_consumer",
            ),
            (
                request("r-4", "public_security.nonexistent", &s.inside, &["name"]),
                key(1),
                404,
                "unknown_dataset",
            ),
            (
                request(
                    "r-5",
                    "public_security.resident",
                    "520102199003071051",
                    &["name"],
                ),
                key(1),
                400,
                "malformed_subject",
            ),
            (
                request(
                    "r-6",
                    "public_security.resident",
                    &s.inside,
                    &["name", "address"],
                ),
                key(1),
                403,
                "field_not_granted",
            ),
            (
                request("r-7", "public_security.resident", &s.outside, &["name"]),
                key(1),
                403,
                "subject_outside_scope",
            ),
            (
                request("r-8", "finance.one_card", &s.inside, &["bank"]),
                key(1),
                403,
                "grant_expired",
            ),
            (
                ReadRequest {
                    purpose: Purpose::Statistics.code().into(),
                    ..request("r-9", "public_security.resident", &s.inside, &["name"])
                },
                key(1),
                403,
                "no_grant",
            ),
            (
                ReadRequest {
                    purpose: "curiosity".into(),
                    ..request("r-10", "public_security.resident", &s.inside, &["name"])
                },
                key(1),
                400,
                "unknown_purpose",
            ),
        ];
        for (r, signer, status, code) in &cases {
            let reply = read(&s, r, signer).await;
            assert_eq!(
                (reply.status, code_of(&reply).as_str()),
                (*status, *code),
                "{}",
                reply.body
            );
        }
        let bare = get(
            format!("{}/data/public_security.resident/1.0/read", s.base),
            vec![],
        )
        .await;
        assert_eq!(
            (bare.status, code_of(&bare).as_str()),
            (400, "malformed_request")
        );
        let version = get(
            format!("{}/data/public_security.resident/9.9/read", s.base),
            vec![],
        )
        .await;
        assert_eq!(
            (version.status, code_of(&version).as_str()),
            (404, "unknown_version")
        );

        // The tracker: operator only; every read of the subject, each with a valid receipt.
        let url = format!("{}/data/myPersonalDataUsage?userId={}", s.base, s.inside);
        let denied = get(url.clone(), vec![("Authorization", "Bearer wrong".into())]).await;
        assert_eq!(
            (denied.status, code_of(&denied).as_str()),
            (401, "unauthorized")
        );
        let bad_id = get(
            format!("{}/data/myPersonalDataUsage?userId=12345", s.base),
            vec![("Authorization", format!("Bearer {TOKEN}"))],
        )
        .await;
        assert_eq!(bad_id.status, 400, "{}", bad_id.body);
        let tracked = get(url, vec![("Authorization", format!("Bearer {TOKEN}"))]).await;
        assert_eq!(tracked.status, 200, "{}", tracked.body);
        let items: Vec<DataUsage> = serde_json::from_str(&tracked.body).expect("usage items");
        // r-1 allowed; r-1 replayed, r-2, r-3, r-6, r-8, r-9, r-10 refused (r-4's dataset and
        // r-5's subject are refused, r-7 is about someone else).
        let about: Vec<&str> = items.iter().map(|i| i.outcome.as_str()).collect();
        assert_eq!(about.len(), 9, "{about:?}");
        assert_eq!(about[0], "allowed");
        assert_eq!(items[0].reader_id, "civil_affairs");
        assert_eq!(items[0].purpose.as_deref(), Some("benefit_eligibility"));
        assert_eq!(
            items[0].refrences[0].reference_id,
            "public_security.resident"
        );
        assert!(items[0]
            .reader_institution_name
            .as_deref()
            .is_some_and(|n| n.contains("civil_affairs")));
        let vkey = log_key().verifier();
        let tag = SubjectKey::from_bytes([3; 32]).tag(&s.inside);
        for item in &items {
            let receipt = Receipt::parse(item.receipt.as_bytes()).expect("a receipt");
            let (checkpoint, bytes) = receipt.verify(&vkey, None).expect("the receipt verifies");
            assert_eq!(checkpoint.to_bytes(), item.checkpoint.as_bytes());
            assert_eq!(receipt.index.to_string(), item.id);
            assert_eq!(
                Entry::from_bytes(&bytes).expect("an entry").subject,
                Some(tag)
            );
        }
        let mut forged = Receipt::parse(items[0].receipt.as_bytes()).expect("a receipt");
        forged.index += 1;
        assert!(
            forged.verify(&vkey, None).is_err(),
            "a receipt must be able to fail"
        );

        // The metrics moved.
        let metrics = get(format!("{}/metrics", s.base), vec![]).await.body;
        assert!(
            metrics.contains("errandless_reads_total{outcome=\"allowed\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("errandless_reads_total{outcome=\"bad_signature\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("errandless_read_duration_seconds_count 12"),
            "{metrics}"
        );

        // The ledger's files, read-only.
        let checkpoint = get(format!("{}/ledger/checkpoint", s.base), vec![]).await;
        assert_eq!(checkpoint.status, 200);
        assert_eq!(
            checkpoint.body.as_bytes(),
            std::fs::read(s.ledger_dir.path().join("checkpoint")).expect("checkpoint file")
        );

        // The API description and liveness.
        let doc = get(format!("{}/openapi.json", s.base), vec![]).await;
        let doc: serde_json::Value = serde_json::from_str(&doc.body).expect("openapi.json parses");
        for path in [
            "/data/{dataset}/{version}/read",
            "/data/myPersonalDataUsage",
            "/metrics",
            "/healthz",
            "/api/v1/batch",
            "/api/v1/batch/detail",
        ] {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
        let g2p_params: Vec<&str> = doc["paths"]["/api/v1/batch/detail"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for name in [
            "batchId",
            "pageNo",
            "pageSize",
            "status",
            "Platform-TenantId",
            "X-CorrelationID",
            "X-Signature",
        ] {
            assert!(g2p_params.contains(&name), "{name} in {g2p_params:?}");
        }
        assert_eq!(get(format!("{}/healthz", s.base), vec![]).await.status, 200);

        s.stop().await;
    })
    .await;
}

/// A G2P query of `path_and_query` by `member` for `tenant`, signed by `signer`.
async fn g2p(
    s: &Server,
    path_and_query: &str,
    member: &str,
    tenant: &str,
    correlation: &str,
    signer: &SigningKey,
) -> Reply {
    use ed25519_dalek::Signer as _;
    let client = format!("ERRANDLESS/GOV/{member}/payments");
    let bytes =
        errandless_payments::govstack::query_bytes(&client, tenant, correlation, path_and_query);
    let signature = BASE64.encode(signer.sign(&bytes).to_bytes());
    get(
        format!("{}{path_and_query}", s.base),
        vec![
            (CLIENT_HEADER, client),
            (TENANT_HEADER, tenant.to_owned()),
            (CORRELATION_HEADER, correlation.to_owned()),
            (SIGNATURE_HEADER, signature),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payer_follows_a_batch_through_the_g2p_api_and_no_one_else_can() {
    use errandless_payments::govstack::{BatchStatusUpdate, JsonAmount, TransactionDetail};
    use errandless_payments::xml::{read_pain001, Pain002, Reason, TxStatus};
    use errandless_payments::{Entitlement, Fen, Payer, Payments};
    for_each_backend(|store| async move {
        let mut s = start(store.clone()).await;
        errandless_payments::migrate(&store)
            .await
            .expect("the payment tables");
        let payments = Payments::new(
            store.clone(),
            s.exchange.ledger(),
            SubjectKey::from_bytes([3; 32]),
            Payer {
                member: "finance".into(),
                ..Payer::default()
            },
        );
        let people: Vec<String> = (0..5)
            .map(|i| {
                pick(
                    "public_security",
                    &format!(
                        "SELECT id_number FROM resident ORDER BY id_number LIMIT 1 OFFSET {i}"
                    ),
                )
            })
            .collect();
        let entitlements: Vec<Entitlement> = people
            .iter()
            .enumerate()
            .map(|(i, p)| Entitlement {
                policy_id: "freshman-subsidy".into(),
                period: "2026".into(),
                subject_id: p.clone(),
                payee_name: format!("学生{i}"),
                account: format!("62170{i:014}"),
                bank: "贵州农村信用社".into(),
                amount_fen: 500_000 + i as i64,
                decision_ref: format!("decision-{i}"),
            })
            .collect();
        payments
            .entitle(&entitlements, 1_000)
            .await
            .expect("entitled");
        let out = s.ledger_dir.path().join("payments");
        let files = payments
            .export(&out, 100, 2_000, &mut |_| {})
            .await
            .expect("exported");
        let file = read_pain001(std::io::BufReader::new(
            std::fs::File::open(&files[0].path).expect("the file"),
        ))
        .expect("pain.001");
        let ids: Vec<String> = file
            .transfers
            .iter()
            .map(|t| t.end_to_end_id.clone())
            .collect();
        let status = |i: usize, code: &str, reason: Option<&str>| TxStatus {
            original_end_to_end_id: ids[i].clone(),
            status: code.into(),
            reason: reason.map(|c| Reason {
                code: c.into(),
                additional: Some("account closed".into()),
            }),
        };
        let report = Pain002 {
            msg_id: "BANK-1".into(),
            created: "2026-11-27T08:00:00Z".into(),
            original_msg_id: file.msg_id.clone(),
            original_msg_name_id: "pain.001.001.09".into(),
            group_status: Some("PART".into()),
            group_reason: None,
            original_payment_info_id: None,
            transactions: vec![
                status(0, "ACSC", None),
                status(1, "RJCT", Some("AC04")),
                status(2, "ACSC", None),
                status(3, "ACSC", None),
            ],
        };
        payments.import(&report, 3_000).await.expect("imported");
        let batch = &file.msg_id;

        // The detail, two transfers a page: every transfer once, in the file's order.
        let size = s.exchange.ledger_size();
        let mut listed = Vec::new();
        for page in 0..3 {
            let r = g2p(
                &s,
                &format!("/api/v1/batch/detail?batchId={batch}&pageNo={page}&pageSize=2"),
                "finance",
                TENANT,
                &format!("c-{page}"),
                &key(3),
            )
            .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.correlation.as_deref(), Some(format!("c-{page}").as_str()));
            let details: Vec<TransactionDetail> =
                serde_json::from_str(&r.body).expect("G2P details");
            assert!(!r.body.contains("学生"), "no payee names: {}", r.body);
            listed.extend(details);
        }
        assert_eq!(
            s.exchange.ledger_size(),
            size + 3,
            "each answer is recorded"
        );
        let got: Vec<(&str, &str, JsonAmount)> = listed
            .iter()
            .map(|d| (d.transaction_id.as_str(), d.status.as_str(), d.amount))
            .collect();
        let expected: Vec<(&str, &str, JsonAmount)> = file
            .transfers
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let status = match i {
                    1 => "FAILED",
                    4 => "IN_PROGRESS",
                    _ => "COMPLETED",
                };
                (t.end_to_end_id.as_str(), status, JsonAmount(t.amount))
            })
            .collect();
        assert_eq!(got, expected);
        assert_eq!(listed[1].error_information.as_deref(), Some("AC04"));
        assert_eq!(listed[1].status_detail, "rejected: account closed");
        assert!(listed
            .iter()
            .all(|d| d.payer_party_id == Payer::default().account));

        // Filtered by status.
        let failed = g2p(
            &s,
            &format!("/api/v1/batch/detail?batchId={batch}&status=FAILED"),
            "finance",
            TENANT,
            "c-f",
            &key(3),
        )
        .await;
        let failed: Vec<TransactionDetail> = serde_json::from_str(&failed.body).expect("details");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].transaction_id, ids[1]);

        // How the batch stands.
        let r = g2p(
            &s,
            &format!("/api/v1/batch?batchId={batch}"),
            "finance",
            TENANT,
            "c-s",
            &key(3),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let update: BatchStatusUpdate = serde_json::from_str(&r.body).expect("a status update");
        assert_eq!(
            (
                update.total_transactions,
                update.completed,
                update.failed,
                update.ongoing
            ),
            (5, 3, 1, Some(1))
        );
        assert_eq!(update.total_amount, JsonAmount(file.control_sum()));
        assert_eq!(update.failed_amount, JsonAmount(Fen(500_001)));
        assert_eq!(update.request_id, "c-s");

        // Refusals, each with its status and code; a known member refused is recorded.
        let detail = format!("/api/v1/batch/detail?batchId={batch}");
        let size = s.exchange.ledger_size();
        let r = g2p(&s, &detail, "civil_affairs", TENANT, "c-1", &key(1)).await;
        assert_eq!((r.status, code_of(&r).as_str()), (403, "not_the_payer"));
        assert_eq!(
            s.exchange.ledger_size(),
            size + 1,
            "the refusal is recorded"
        );
        let r = g2p(&s, &detail, "finance", "110000", "c-2", &key(3)).await;
        assert_eq!((r.status, code_of(&r).as_str()), (403, "unknown_tenant"));
        let r = g2p(&s, &detail, "finance", TENANT, "c-3", &key(1)).await;
        assert_eq!((r.status, code_of(&r).as_str()), (401, "bad_signature"));
        let r = g2p(&s, &detail, "tourism", TENANT, "c-4", &key(3)).await;
        assert_eq!((r.status, code_of(&r).as_str()), (401, "unknown_consumer"));
        let r = g2p(
            &s,
            "/api/v1/batch/detail?batchId=ERRANDLESS-000099-00000000",
            "finance",
            TENANT,
            "c-5",
            &key(3),
        )
        .await;
        assert_eq!((r.status, code_of(&r).as_str()), (404, "unknown_batch"));
        for (query, code) in [
            (format!("{detail}&pageSize=0"), "malformed_request"),
            (format!("{detail}&pageSize=1001"), "malformed_request"),
            (format!("{detail}&pageNo=-1"), "malformed_request"),
            (format!("{detail}&pageNo=x"), "malformed_request"),
            (format!("{detail}&status=DONE"), "unknown_status"),
            (format!("{detail}&direction=SIDEWAYS"), "malformed_request"),
            ("/api/v1/batch/detail".to_owned(), "malformed_request"),
        ] {
            let r = g2p(&s, &query, "finance", TENANT, "c-6", &key(3)).await;
            assert_eq!((r.status, code_of(&r).as_str()), (400, code), "{query}");
        }
        // A signature over another query does not open this one.
        let r = get(
            format!("{}{detail}&pageSize=1", s.base),
            vec![
                (CLIENT_HEADER, "finance".to_owned()),
                (TENANT_HEADER, TENANT.to_owned()),
                (CORRELATION_HEADER, "c-7".to_owned()),
                (
                    SIGNATURE_HEADER,
                    BASE64.encode(
                        ed25519_dalek::Signer::sign(
                            &key(3),
                            &errandless_payments::govstack::query_bytes(
                                "finance", TENANT, "c-7", &detail,
                            ),
                        )
                        .to_bytes(),
                    ),
                ),
            ],
        )
        .await;
        assert_eq!((r.status, code_of(&r).as_str()), (401, "bad_signature"));
        let r = get(format!("{}{detail}", s.base), vec![]).await;
        assert_eq!((r.status, code_of(&r).as_str()), (400, "malformed_request"));

        s.stop().await;
        store.close().await;
    })
    .await;
}
