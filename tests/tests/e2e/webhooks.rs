//! Webhooks against a receiver started by the test: signed deliveries (verified by the
//! Standard Webhooks library, and by the earlier `Tessera-Signature`), retries after
//! 500s, giving up and disabling at the bound, redelivery, secret rotation, and a
//! delivery cut off by a crash sent after the restart. Live subscriptions: a client of
//! tenant A hears A's events (committed on either replica) and never B's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tessera_infrastructure::webhooks::verify_signature;
use tessera_server::Config;
use tessera_tests::live::LiveClient;
use tessera_tests::{Backend, Member, RoleChoice, TestApp, on_both_backends, redis_url};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both_backends!(
    deliveries_verify_with_the_standard_webhooks_library,
    old_events_and_ended_deliveries_go_at_the_tenants_next_hand_over,
    two_replicas_hand_over_each_event_once_and_in_order,
    deliveries_are_signed_retried_given_up_disabled_and_redelivered,
    a_delivery_cut_off_by_a_crash_is_sent_after_the_restart,
    subscribers_hear_their_own_tenants_events_only,
    delivered_documents_have_the_shape_the_catalogue_shows,
);

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A webhook receiver: answers each request with the next scripted status (200 once
/// the script is spent; 0 means hang without answering) and remembers every request,
/// how many it held open at most at once, and (over TLS) how many handshakes failed.
#[derive(Clone, Default)]
pub(crate) struct Receiver {
    script: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<Received>>>,
    open: Arc<std::sync::atomic::AtomicUsize>,
    most_open: Arc<std::sync::atomic::AtomicUsize>,
    failed_handshakes: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub(crate) async fn start() -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
        let receiver = Self::default();
        let shared = receiver.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let receiver = shared.clone();
                tokio::spawn(async move { receiver.answer(socket).await });
            }
        });
        (receiver, url)
    }

    /// An `https` receiver at `https://localhost:<port>/hooks` with `tls`'s certificate.
    pub(crate) async fn start_tls(tls: Arc<tokio_rustls::rustls::ServerConfig>) -> (Self, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!(
            "https://localhost:{}/hooks",
            listener.local_addr().expect("address").port()
        );
        let receiver = Self::default();
        let shared = receiver.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (receiver, acceptor) = (shared.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor.accept(socket).await {
                        Ok(stream) => receiver.answer(stream).await,
                        Err(_) => {
                            receiver
                                .failed_handshakes
                                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        (receiver, url)
    }

    pub(crate) fn failed_handshakes(&self) -> usize {
        self.failed_handshakes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The most requests it held open at the same moment.
    pub(crate) fn most_open(&self) -> usize {
        self.most_open.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(&self, mut socket: S) {
        use std::sync::atomic::Ordering;
        let open = self.open.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_open.fetch_max(open, Ordering::SeqCst);
        self.answer_one(&mut socket).await;
        self.open.fetch_sub(1, Ordering::SeqCst);
    }

    async fn answer_one<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(&self, socket: &mut S) {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 8192];
        let (head_end, length) = loop {
            let Ok(read) = socket.read(&mut chunk).await else {
                return;
            };
            if read == 0 {
                return;
            }
            buffer.extend_from_slice(&chunk[..read]);
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                let length = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, length);
            }
        };
        while buffer.len() < head_end + length {
            let Ok(read) = socket.read(&mut chunk).await else {
                return;
            };
            if read == 0 {
                return;
            }
            buffer.extend_from_slice(&chunk[..read]);
        }
        let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
        self.received.lock().expect("lock").push(Received { headers, body });
        let status = self.script.lock().expect("lock").pop_front().unwrap_or(200);
        if status == 0 {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        let answer = format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        let _ = socket.write_all(answer.as_bytes()).await;
    }

    pub(crate) fn script(&self, statuses: &[u16]) {
        self.script.lock().expect("lock").extend(statuses.iter().copied());
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub(crate) async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the receiver got {} requests, expected {count}", self.received().len());
    }
}

/// Quick retries, few attempts, disabling after one delivery that gave up.
pub(crate) fn fast_webhooks(config: &mut Config) {
    config.webhooks.outbox_poll_ms = 25;
    config.webhooks.webhook_retry_base_ms = 100;
    config.webhooks.webhook_retry_max_delay_seconds = 1;
    config.webhooks.webhook_max_attempts = 3;
    config.webhooks.webhook_disable_after = 1;
    config.webhooks.webhook_timeout_seconds = 1;
}

const DELIVERIES: &str = "query($id: ID!) { webhookDeliveries(endpointId: $id, first: 50) { totalCount nodes { id eventId eventType status attempts responseStatus lastError payload } } }";
const ENDPOINTS: &str =
    "query { webhookEndpoints(first: 10) { nodes { id enabled disabledReason failedDeliveriesInARow } } }";

pub(crate) async fn create_endpoint(app: &TestApp, owner: &Member, url: &str, events: &[&str]) -> (String, String) {
    let response = app
        .graphql(
            "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id events enabled } secret } }",
            json!({ "input": { "url": url, "events": events, "description": "test receiver" } }),
            Some(&owner.token),
        )
        .await;
    let data = &response.assert_ok()["createWebhookEndpoint"];
    (
        data["endpoint"]["id"].as_str().expect("id").to_owned(),
        data["secret"].as_str().expect("secret").to_owned(),
    )
}

pub(crate) async fn deliveries(app: &TestApp, owner: &Member, endpoint: &str) -> Vec<Value> {
    let response = app
        .graphql(DELIVERIES, json!({ "id": endpoint }), Some(&owner.token))
        .await;
    response.assert_ok()["webhookDeliveries"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Waits until the endpoint has `count` deliveries, none of them pending.
pub(crate) async fn settled(app: &TestApp, owner: &Member, endpoint: &str, count: usize) -> Vec<Value> {
    for _ in 0..200 {
        let list = deliveries(app, owner, endpoint).await;
        if list.len() >= count && list.iter().all(|d| d["status"] != "PENDING") {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "deliveries did not settle: {:?}",
        deliveries(app, owner, endpoint).await
    );
}

/// Rotates the endpoint's signing secret: the new one.
async fn rotate_secret(app: &TestApp, owner: &Member, endpoint: &str) -> String {
    let rotated = app
        .graphql(
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            json!({ "id": endpoint }),
            Some(&owner.token),
        )
        .await;
    rotated.assert_ok()["rotateWebhookSecret"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned()
}

pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn deliveries_are_signed_retried_given_up_disabled_and_redelivered(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| fast_webhooks(config)).await else {
        return;
    };
    let (receiver, url) = Receiver::start().await;
    let owner = app.sign_up("owner@hooks.example", "hooks").await;
    let (endpoint, secret) = create_endpoint(&app, &owner, &url, &["workspace.created"]).await;

    // Two 500s, then 200: three attempts, one delivery, every attempt signed.
    receiver.script(&[500, 500]);
    let workspace = app.create_workspace(&owner, "Design", "design").await;
    let list = settled(&app, &owner, &endpoint, 1).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "SUCCEEDED");
    assert_eq!(list[0]["attempts"], 3);
    assert_eq!(list[0]["responseStatus"], 200);
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        let signature = request.header("Tessera-Signature").expect("signed");
        assert!(
            verify_signature(&secret, signature, &request.body, now(), 300),
            "{signature}"
        );
        assert!(!verify_signature("whsec_wrong", signature, &request.body, now(), 300));
        assert_eq!(request.header("Tessera-Event-Type"), Some("workspace.created"));
        assert_eq!(request.header("Tessera-Event-Id"), list[0]["eventId"].as_str());
        assert_eq!(request.header("Content-Type"), Some("application/json"));
    }
    let body = received[0].json();
    assert_eq!(body["type"], "workspace.created");
    assert_eq!(body["tenantId"], owner.tenant_id.as_str());
    assert_eq!(body["target"]["id"], workspace.as_str());
    assert_eq!(body["actor"]["id"], owner.user_id.as_str());
    assert_eq!(body, list[0]["payload"], "the delivery log shows the body sent");
    let tampered = received[0].body.replace("Design", "Evil");
    assert!(!verify_signature(
        &secret,
        received[0].header("Tessera-Signature").expect("signed"),
        &tampered,
        now(),
        300
    ));

    // Always 500: three attempts, then the delivery fails and the endpoint is disabled.
    receiver.script(&[500, 500, 500]);
    app.create_workspace(&owner, "Ops", "ops").await;
    let list = settled(&app, &owner, &endpoint, 2).await;
    let failed = list
        .iter()
        .find(|d| d["status"] == "FAILED")
        .expect("a failed delivery");
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["responseStatus"], 500);
    assert!(failed["lastError"].as_str().is_some_and(|e| e.contains("500")));
    let endpoints = app.query(ENDPOINTS, &owner.token).await;
    let listed = &endpoints.assert_ok()["webhookEndpoints"]["nodes"][0];
    assert_eq!(listed["enabled"], false);
    assert_eq!(listed["failedDeliveriesInARow"], 1);
    assert!(listed["disabledReason"].as_str().is_some_and(|r| r.contains("failed")));
    let events = app
        .query("query { auditEvents(first: 5, filter: { action: \"webhook_endpoint.disabled\" }) { nodes { actorType targetId } } }", &owner.token)
        .await;
    let disabled = &events.assert_ok()["auditEvents"]["nodes"];
    assert_eq!(
        disabled.as_array().map(Vec::len),
        Some(1),
        "the tenant is told: {disabled}"
    );
    assert_eq!(disabled[0]["actorType"], "system");
    assert_eq!(disabled[0]["targetId"], endpoint.as_str());

    // Disabled: a new event makes no delivery, and redelivery is refused.
    let before = receiver.received().len();
    app.create_workspace(&owner, "Quiet", "quiet").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(deliveries(&app, &owner, &endpoint).await.len(), 2);
    let failed_id = failed["id"].as_str().expect("id").to_owned();
    let redeliver = "mutation($id: ID!) { redeliverWebhook(deliveryId: $id) { id status eventId } }";
    let refused = app
        .graphql(redeliver, json!({ "id": failed_id }), Some(&owner.token))
        .await;
    assert_eq!(refused.error_code(), Some("CONFLICT"), "{}", refused.body);

    // Enabled again and rotated: the redelivery carries the same event, signed by both secrets.
    let enabled = app
        .graphql(
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { enabled failedDeliveriesInARow disabledReason } }",
            json!({ "id": endpoint }),
            Some(&owner.token),
        )
        .await;
    assert_eq!(
        enabled.assert_ok()["updateWebhookEndpoint"],
        json!({ "enabled": true, "failedDeliveriesInARow": 0, "disabledReason": null })
    );
    let new_secret = rotate_secret(&app, &owner, &endpoint).await;
    assert_ne!(new_secret, secret);
    let again = app
        .graphql(redeliver, json!({ "id": failed_id }), Some(&owner.token))
        .await;
    let again = again.assert_ok()["redeliverWebhook"].clone();
    assert_eq!(again["status"], "PENDING");
    assert_eq!(again["eventId"], failed["eventId"]);
    let list = settled(&app, &owner, &endpoint, 3).await;
    let redelivered = list.iter().find(|d| d["id"] == again["id"]).expect("the redelivery");
    assert_eq!(redelivered["status"], "SUCCEEDED");
    let received = receiver.received();
    assert_eq!(received.len(), before + 1, "only the redelivery was sent");
    let last = received.last().expect("a request");
    assert_eq!(last.header("Tessera-Event-Id"), failed["eventId"].as_str());
    let signature = last.header("Tessera-Signature").expect("signed");
    assert!(verify_signature(&new_secret, signature, &last.body, now(), 300));
    assert!(
        verify_signature(&secret, signature, &last.body, now(), 300),
        "the old secret still signs"
    );

    // Bad input gets per-field errors; another tenant sees none of it.
    let bad = app
        .query(
            "mutation { createWebhookEndpoint(input: { url: \"ftp://x\", events: [\"nope\"] }) { secret } }",
            &owner.token,
        )
        .await;
    assert_eq!(bad.error_code(), Some("BAD_USER_INPUT"), "{}", bad.body);
    assert!(
        bad.field_error("url").is_some() && bad.field_error("events").is_some(),
        "{}",
        bad.body
    );
    let stranger = app.sign_up("stranger@else.example", "elsewhere").await;
    let foreign = app
        .graphql(DELIVERIES, json!({ "id": endpoint }), Some(&stranger.token))
        .await;
    assert_eq!(foreign.error_code(), Some("NOT_FOUND"), "{}", foreign.body);
    let theirs = app.query(ENDPOINTS, &stranger.token).await;
    assert_eq!(theirs.assert_ok()["webhookEndpoints"]["nodes"], json!([]));
    let viewer = app
        .join(
            &owner,
            "viewer@hooks.example",
            RoleChoice::System(tessera_domain::SystemRole::Viewer),
        )
        .await;
    let denied = app.query(ENDPOINTS, &viewer.token).await;
    assert_eq!(denied.error_code(), Some("FORBIDDEN"), "{}", denied.body);
    app.stop().await;
}

async fn a_delivery_cut_off_by_a_crash_is_sent_after_the_restart(backend: Backend) {
    let Some(mut app) = TestApp::spawn_configured(backend, |config, _| fast_webhooks(config)).await else {
        return;
    };
    let (receiver, url) = Receiver::start().await;
    let owner = app.sign_up("owner@crash.example", "crash").await;
    let (endpoint, secret) = create_endpoint(&app, &owner, &url, &["workspace.created"]).await;

    // The receiver holds the first request open; the server dies while it waits.
    receiver.script(&[0]);
    app.create_workspace(&owner, "Design", "design").await;
    receiver.wait_for(1).await;
    app.kill();
    app.restart().await;

    // After the reservation runs out (twice the 1 s timeout, plus a second) the new
    // server sends it again, and it succeeds.
    let list = settled(&app, &owner, &endpoint, 1).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["status"], "SUCCEEDED");
    let received = receiver.received();
    assert_eq!(received.len(), 2, "sent once before the crash and once after");
    assert_eq!(
        received[0].header("Tessera-Event-Id"),
        received[1].header("Tessera-Event-Id")
    );
    assert!(verify_signature(
        &secret,
        received[1].header("Tessera-Signature").expect("signed"),
        &received[1].body,
        now(),
        300
    ));
    app.stop().await;
}

const LIVE: &str =
    "subscription { tenantEvents(types: [\"workspace.created\", \"workspace.renamed\"]) { id type payload } }";

/// Subscribes `client` and returns once the subscription hears its tenant: `owner`
/// creates probe workspaces until one comes through (there is no acknowledgement of a
/// subscription in the protocol). Later probes are skipped by [`next_real`].
async fn listening(app: &TestApp, owner: &Member, client: &mut LiveClient, query: &str) {
    client.subscribe(query).await;
    for n in 0..20 {
        let slug = format!("probe-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        app.create_workspace(owner, &format!("Probe {n}"), &slug).await;
        if let Some(message) = client.next_message(Duration::from_secs(1)).await {
            assert_eq!(message["type"], "next", "{message}");
            return;
        }
    }
    panic!("the subscription never heard its tenant");
}

/// The next message that is not a late probe.
async fn next_real(client: &mut LiveClient) -> Value {
    loop {
        let message = client.next_message(Duration::from_secs(10)).await.expect("a message");
        let probe = message["payload"]["data"]["tenantEvents"]["payload"]["changes"][0]["after"]
            .as_str()
            .is_some_and(|name| name.starts_with("Probe "));
        if !probe {
            return message;
        }
    }
}

async fn subscribers_hear_their_own_tenants_events_only(backend: Backend) {
    // Postgres runs two replicas sharing Redis; SQLite is a single instance.
    let with_redis = backend == Backend::Postgres;
    if with_redis && redis_url().is_none() {
        return;
    }
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        config.webhooks.outbox_poll_ms = 25;
        if with_redis {
            config.redis.url = redis_url().map(Into::into);
        }
    })
    .await
    else {
        return;
    };
    let replica = if with_redis { Some(app.replica().await) } else { None };
    let listen_at = replica
        .as_ref()
        .map_or_else(|| app.addr().expect("running"), |r| r.addr);
    let bearer = |member: &Member| json!({ "Authorization": format!("Bearer {}", member.token) });

    let ada = app.sign_up("ada@a.example", "tenant-a").await;
    let bob = app.sign_up("bob@b.example", "tenant-b").await;
    let mut live = LiveClient::connect(listen_at, bearer(&ada)).await.expect("connected");
    listening(&app, &ada, &mut live, LIVE).await;

    // B's events come first each time; A's subscriber must hear A's next.
    for round in 0..2 {
        app.create_workspace(&bob, &format!("B {round}"), &format!("b-{round}"))
            .await;
        let ours = app
            .create_workspace(&ada, &format!("A {round}"), &format!("a-{round}"))
            .await;
        let message = next_real(&mut live).await;
        assert_eq!(message["type"], "next", "{message}");
        let event = &message["payload"]["data"]["tenantEvents"];
        assert_eq!(event["type"], "workspace.created");
        assert_eq!(
            event["payload"]["tenantId"],
            ada.tenant_id.as_str(),
            "nothing of tenant B: {event}"
        );
        assert_eq!(event["payload"]["target"]["id"], ours.as_str());
    }

    // Only subscriptions run over the socket: a mutation is refused, and runs nothing.
    live.subscribe_as(
        "2",
        "mutation { createWorkspace(input: { name: \"Sneaky\", slug: \"sneaky\" }) { id } }",
    )
    .await;
    let refused = next_real(&mut live).await;
    assert_eq!(refused["id"], "2", "{refused}");
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    let listed = app
        .query("{ workspaces(first: 50) { nodes { slug } } }", &ada.token)
        .await;
    assert!(
        !listed.assert_ok().to_string().contains("sneaky"),
        "the mutation did not run"
    );

    // No credential, or a bad one: the connection is refused.
    let anonymous = LiveClient::connect(listen_at, json!({})).await;
    assert!(anonymous.is_err(), "an anonymous connection is refused");
    let forged = LiveClient::connect(listen_at, json!({ "Authorization": "Bearer forged" })).await;
    assert!(forged.is_err(), "a forged token is refused");

    // A member without audit:read may connect but not subscribe.
    let viewer = app
        .join(
            &ada,
            "viewer@a.example",
            RoleChoice::System(tessera_domain::SystemRole::Viewer),
        )
        .await;
    let mut watcher = LiveClient::connect(listen_at, bearer(&viewer))
        .await
        .expect("connected");
    watcher.subscribe(LIVE).await;
    let answer = watcher.next_message(Duration::from_secs(5)).await.expect("an answer");
    assert_eq!(answer["payload"]["data"], Value::Null, "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{answer}"
    );

    // An admin's open subscription ends, saying why, once the admin is demoted.
    let admin = app
        .join(
            &ada,
            "admin@a.example",
            RoleChoice::System(tessera_domain::SystemRole::Admin),
        )
        .await;
    let mut demoted = LiveClient::connect(listen_at, bearer(&admin)).await.expect("connected");
    listening(&app, &ada, &mut demoted, LIVE).await;
    let viewer_role = app.role_id(&ada.token, "viewer").await;
    app.graphql(
        "mutation($u: ID!, $r: ID!) { updateMemberRole(input: { userId: $u, roleId: $r }) { status } }",
        json!({ "u": admin.user_id, "r": viewer_role }),
        Some(&ada.token),
    )
    .await
    .assert_ok();
    app.create_workspace(&ada, "After", "after").await;
    let refusal = next_real(&mut demoted).await;
    assert_eq!(refusal["type"], "next", "{refusal}");
    assert_eq!(
        refusal["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "the stream says why it ends instead of sending: {refusal}"
    );
    let ended = next_real(&mut demoted).await;
    assert_eq!(ended["type"], "complete", "{ended}");

    if let Some(replica) = replica {
        replica.stop().await;
    }
    app.stop().await;
}

/// Two replicas (on SQLite: one server with several workers) race for the same queues:
/// every event becomes exactly one delivery, made in the order the events happened.
async fn two_replicas_hand_over_each_event_once_and_in_order(backend: Backend) {
    // The first server has no workers: the 20 events pile up before anyone hands them
    // over, then the workers of two replicas (one on SQLite) race for the backlog.
    let Some(app) = TestApp::spawn_configured(backend, |config, _| {
        fast_webhooks(config);
        config.webhooks.outbox_workers = 0;
        config.webhooks.webhook_workers = 0;
    })
    .await
    else {
        return;
    };
    let (receiver, url) = Receiver::start().await;
    let owner = app.sign_up("owner@race.example", "race").await;
    let (endpoint, _) = create_endpoint(&app, &owner, &url, &["workspace.created"]).await;
    let mut created = Vec::new();
    for n in 0..20 {
        created.push(
            app.create_workspace(&owner, &format!("Team {n}"), &format!("team-{n}"))
                .await,
        );
    }
    assert!(
        deliveries(&app, &owner, &endpoint).await.is_empty(),
        "nothing handed over yet"
    );
    let with_workers = |config: &mut Config| {
        config.webhooks.outbox_workers = 3;
        config.webhooks.webhook_workers = 3;
    };
    let mut replicas = vec![app.replica_configured(with_workers).await];
    if backend == Backend::Postgres {
        replicas.push(app.replica_configured(with_workers).await);
    }
    let list = settled(&app, &owner, &endpoint, 20).await;
    assert_eq!(list.len(), 20, "one delivery per event");
    assert!(list.iter().all(|d| d["status"] == "SUCCEEDED" && d["attempts"] == 1));
    // Deliveries are listed in the order they were made: the events' order.
    let targets: Vec<&str> = list
        .iter()
        .map(|d| d["payload"]["target"]["id"].as_str().expect("target"))
        .collect();
    assert_eq!(targets, created.iter().map(String::as_str).collect::<Vec<_>>());
    let mut sent: Vec<String> = receiver
        .wait_for(20)
        .await
        .iter()
        .map(|r| r.header("Tessera-Event-Id").expect("event id").to_owned())
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 20, "no event was sent twice");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 20);
    for replica in replicas {
        replica.stop().await;
    }
    app.stop().await;
}

/// Housekeeping: handed-over events and ended deliveries past their retention are
/// deleted when their tenant's next event is handed over; another tenant's stay.
async fn old_events_and_ended_deliveries_go_at_the_tenants_next_hand_over(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| fast_webhooks(config)).await else {
        return;
    };
    let (receiver, url) = Receiver::start().await;
    let ada = app.sign_up("ada@prune.example", "prune-a").await;
    let bob = app.sign_up("bob@prune.example", "prune-b").await;
    let (endpoint, _) = create_endpoint(&app, &ada, &url, &["workspace.created"]).await;
    create_endpoint(&app, &bob, &url, &["workspace.created"]).await;
    app.create_workspace(&ada, "Old", "old").await;
    app.create_workspace(&bob, "Bob's", "bobs").await;
    receiver.wait_for(2).await;
    settled(&app, &ada, &endpoint, 1).await;
    // Two months pass for everything handed over and delivered so far.
    app.db
        .execute_as_owner(
            "UPDATE outbox_events SET delivered_at = '2000-01-01 00:00:00+00:00' WHERE delivered_at IS NOT NULL",
        )
        .await;
    app.db
        .execute_as_owner(
            "UPDATE webhook_deliveries SET completed_at = '2000-01-01 00:00:00+00:00' WHERE completed_at IS NOT NULL",
        )
        .await;
    assert_eq!(app.db.count("webhook_deliveries").await, 2);
    let outbox_before = app.db.count("outbox_events").await;

    app.create_workspace(&ada, "New", "new").await;
    receiver.wait_for(3).await;
    let list = settled(&app, &ada, &endpoint, 1).await;
    assert_eq!(list.len(), 1, "ada's old delivery is gone, the new one stays: {list:?}");
    assert_eq!(list[0]["payload"]["changes"][1]["after"], "new");
    assert_eq!(
        app.db.count("webhook_deliveries").await,
        2,
        "bob's old delivery stays until his next event"
    );
    assert_eq!(
        app.db.count("outbox_events").await,
        outbox_before,
        "ada's old event went, her new one came, bob's stayed"
    );
    app.stop().await;
}

/// Deliveries are checked by the Standard Webhooks reference library from npm, not by
/// Tessera's code: a delivery verifies with its endpoint's secret and with nothing
/// else, a changed body or id does not, and after a rotation both secrets verify the
/// next delivery. With `WEBHOOK_TESSERA_SIGNATURE` on (the default) the earlier header
/// comes too.
async fn deliveries_verify_with_the_standard_webhooks_library(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| fast_webhooks(config)).await else {
        return;
    };
    let (receiver, url) = Receiver::start().await;
    let owner = app.sign_up("owner@standard.example", "standard").await;
    let (endpoint, secret) = create_endpoint(&app, &owner, &url, &["workspace.created"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    app.create_workspace(&owner, "First", "first").await;
    let list = settled(&app, &owner, &endpoint, 1).await;
    let first = receiver.received().last().cloned().expect("a delivery");
    assert_eq!(first.header("webhook-id"), list[0]["eventId"].as_str());
    assert!(verify_signature(
        &secret,
        first.header("Tessera-Signature").expect("the earlier header too"),
        &first.body,
        now(),
        300
    ));

    let new_secret = rotate_secret(&app, &owner, &endpoint).await;
    app.create_workspace(&owner, "Second", "second").await;
    settled(&app, &owner, &endpoint, 2).await;
    let second = receiver.received().last().cloned().expect("a delivery");

    let standard = |request: &Received| {
        json!({
            "webhook-id": request.header("webhook-id"),
            "webhook-timestamp": request.header("webhook-timestamp"),
            "webhook-signature": request.header("webhook-signature"),
        })
    };
    let mut other_id = standard(&first);
    other_id["webhook-id"] = json!("00000000-0000-0000-0000-000000000000");
    let cases = json!([
        { "name": "a delivery, its endpoint's secret", "secret": secret, "headers": standard(&first),
          "body": first.body, "valid": true },
        { "name": "the body changed", "secret": secret, "headers": standard(&first),
          "body": first.body.replace("First", "Evil"), "valid": false },
        { "name": "another id", "secret": secret, "headers": other_id, "body": first.body, "valid": false },
        { "name": "a secret issued later", "secret": new_secret, "headers": standard(&first),
          "body": first.body, "valid": false },
        { "name": "after a rotation, the new secret", "secret": new_secret, "headers": standard(&second),
          "body": second.body, "valid": true },
        { "name": "after a rotation, the previous secret", "secret": secret, "headers": standard(&second),
          "body": second.body, "valid": true },
    ]);
    let file = std::env::temp_dir().join(format!(
        "tessera-standard-webhooks-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, cases.to_string()).expect("cases written");
    let report = tessera_tests::node::run("verify-standard-webhooks.cjs", &[file.to_str().expect("a path")], false);
    let _ = std::fs::remove_file(&file);
    assert!(report.contains("6 cases, 0 wrong"), "{report}");
    app.stop().await;
}

/// What real deliveries carry matches the catalogue's example of their type: the same
/// keys and target type, and only fields the example changes (a person's id in a field
/// name counts as any id).
async fn delivered_documents_have_the_shape_the_catalogue_shows(backend: Backend) {
    let Some(app) = TestApp::spawn_configured(backend, |config, _| fast_webhooks(config)).await else {
        return;
    };
    let (_receiver, url) = Receiver::start().await;
    let owner = app.sign_up("owner@catalogue.example", "catalogue").await;
    let (endpoint, _) = create_endpoint(&app, &owner, &url, &["*"]).await;
    let workspace = app.create_workspace(&owner, "Design", "design").await;
    app.graphql(
        "mutation($id: ID!) { renameWorkspace(input: { id: $id, name: \"Product design\" }) { name } }",
        json!({ "id": workspace }),
        Some(&owner.token),
    )
    .await
    .assert_ok();
    app.create_role(&owner, "Support", &["members:read"]).await;
    let (key, _) = app.create_api_key(&owner, "CI deploys", &["workspaces:create"]).await;
    app.revoke_api_key(&owner, &key).await;
    let role = app.create_role(&owner, "Guests", &["members:read"]).await;
    let invited = app
        .graphql(
            "mutation($input: InviteMemberInput!) { inviteMember(input: $input) { id } }",
            json!({ "input": { "email": "dana@catalogue.example", "roleId": role } }),
            Some(&owner.token),
        )
        .await;
    let invitation = invited.assert_ok()["inviteMember"]["id"].clone();
    app.graphql(
        "mutation($id: ID!) { revokeInvitation(id: $id) { id } }",
        json!({ "id": invitation }),
        Some(&owner.token),
    )
    .await
    .assert_ok();

    let catalogue = app
        .graphql(
            "{ eventTypes { name targetType examplePayload } }",
            json!({}),
            Some(&owner.token),
        )
        .await;
    let catalogue = catalogue.assert_ok()["eventTypes"].as_array().cloned().expect("a list");
    assert_eq!(catalogue.len(), tessera_domain::EVENT_CATALOGUE.len());
    let uuid = uuid_mask;
    let shape = |document: &Value| {
        let mut keys: Vec<String> = document.as_object().expect("an object").keys().cloned().collect();
        keys.sort();
        let mut fields: Vec<String> = document["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .map(|change| uuid(change["field"].as_str().expect("a field")))
            .collect();
        fields.sort();
        (keys, document["target"]["type"].clone(), fields)
    };
    let delivered = settled(&app, &owner, &endpoint, 8).await;
    let mut seen: Vec<String> = Vec::new();
    for delivery in &delivered {
        let payload = &delivery["payload"];
        let name = payload["type"].as_str().expect("a type");
        let entry = catalogue
            .iter()
            .find(|entry| entry["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the catalogue"));
        assert_eq!(entry["targetType"], payload["target"]["type"], "{name}");
        let (example_keys, example_target, example_fields) = shape(&entry["examplePayload"]);
        let (keys, target, fields) = shape(payload);
        assert_eq!((example_keys, example_target), (keys, target), "{name}: {payload}");
        // The example shows every field its type can change (an optional one may be absent).
        assert!(
            !fields.is_empty() && fields.iter().all(|field| example_fields.contains(field)),
            "{name}: changed {fields:?}, the catalogue shows {example_fields:?}"
        );
        seen.push(name.to_owned());
    }
    for expected in [
        "workspace.created",
        "workspace.renamed",
        "role.created",
        "api_key.created",
        "api_key.revoked",
        "invitation.created",
        "invitation.revoked",
    ] {
        assert!(seen.iter().any(|name| name == expected), "no {expected} among {seen:?}");
    }
    app.stop().await;
}

/// `member.<uuid>.role_id` → `member.<id>.role_id`.
fn uuid_mask(field: &str) -> String {
    field
        .split('.')
        .map(|part| {
            if uuid::Uuid::parse_str(part).is_ok() {
                "<id>"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}
