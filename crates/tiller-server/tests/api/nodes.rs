//! Issue 13: three `tiller serve` processes on one PostgreSQL database, no proxy. User
//! messages go to the nodes in turn (a refused request goes to the next node, with the same
//! `msg_id`); robot turns run inline on whichever node took the message, and webhooks go
//! out from any node. Mid-run one node is `kill -9`ed and another restarted. Afterwards:
//! every acknowledged message is stored once, every session's turn ran once, every
//! `message.send` event arrived at least once (duplicates counted), and nothing is left
//! leased or due. Runs only when `TILLER_TEST_PG_URL` names a server (CI sets it).

use std::{
    collections::{HashMap, HashSet},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use tiller_core::{
    conversations::{CallId, MessageQuery, SortOrder},
    messages::SenderType,
    signing::airudder,
    webhooks::EventQuery,
    Clock as _, SystemClock,
};
use tiller_store::testing::TestDatabase;
use tiller_testkit::{ManualClock, WebhookReceiver};

use crate::{
    helpers::{TestApp, TestTenant},
    robots::LOGISTICS,
};

const SESSIONS: usize = 90;

struct Node {
    port: u16,
    child: Option<Child>,
}

impl Node {
    fn start(db_url: &str) -> Node {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut node = Node { port, child: None };
        node.spawn(db_url);
        node
    }

    fn spawn(&mut self, db_url: &str) {
        let child = Command::new(env!("CARGO_BIN_EXE_tiller"))
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--database-url", db_url])
            .env("TILLER_OUTBOUND__ALLOWED_NETWORKS", "127.0.0.1/32")
            .env(
                "TILLER_WEBHOOKS__RETRY_SCHEDULE",
                "1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
            )
            .env("TILLER_WEBHOOKS__TIMEOUT_SECS", "2")
            .env("TILLER_WEBHOOKS__POLL_INTERVAL_MS", "300")
            .env("TILLER_ROBOTS__POLL_INTERVAL_MS", "300")
            .env("TILLER_ROBOTS__TURN_LEASE_SECS", "2")
            .env("TILLER_LOG__FILTER", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tiller serve starts");
        self.child = Some(child);
    }

    /// `kill -9`: no shutdown, leases left behind.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then start again on the same port.
    fn restart(&mut self, db_url: &str) {
        if let Some(mut c) = self.child.take() {
            let term = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status()
                .unwrap();
            assert!(term.success());
            c.wait().unwrap();
        }
        self.spawn(db_url);
    }

    fn url(&self, path: &str) -> String {
        url(self.port, path)
    }
}

fn url(port: u16, path: &str) -> String {
    format!("http://127.0.0.1:{port}{path}")
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ready(client: &reqwest::Client, node: &Node) {
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(node.url("/readyz")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "node never ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POSTs signed; `None` when the node refused the connection or answered 5xx.
async fn signed(
    client: &reqwest::Client,
    port: u16,
    t: &TestTenant,
    path: &str,
    body: &Value,
) -> Option<Value> {
    let body = body.to_string();
    let sign = airudder::sign(&t.sign_secret, None, body.as_bytes());
    let res = client
        .post(url(port, path))
        .header("content-type", "application/json")
        .header("X-AIRudder-Sign-Key", &t.sign_key)
        .header("X-AIRudder-Sign", sign)
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    if res.status().is_server_error() {
        return None;
    }
    assert!(res.status().is_success(), "{path}: {}", res.status());
    Some(res.json::<Value>().await.unwrap()["data"].clone())
}

/// Sends `body` to the node on `ports[first]`, then the next ones, until one acknowledges
/// it.
async fn to_any(
    client: &reqwest::Client,
    ports: &[u16],
    first: usize,
    t: &TestTenant,
    path: &str,
    body: &Value,
) -> Value {
    for attempt in 0..ports.len() * 20 {
        let port = ports[(first + attempt) % ports.len()];
        if let Some(data) = signed(client, port, t, path, body).await {
            return data;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no node acknowledged {path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_survive_a_kill_and_a_restart() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let db = Arc::new(db);
    // An in-process app on the same database, running no workers: it migrates the database,
    // creates the tenant and reads the outcome through the store.
    let setup = TestApp::spawn_on(db.clone(), ManualClock::at(SystemClock.now()), |_| {}).await;
    let t = setup.tenant("Acme").await;
    let rx = WebhookReceiver::start().await;
    let client = reqwest::Client::new();
    let mut nodes: Vec<Node> = (0..3).map(|_| Node::start(&db.url)).collect();
    for n in &nodes {
        ready(&client, n).await;
    }
    let ports: Arc<[u16]> = nodes.iter().map(|n| n.port).collect();
    let endpoint = json!({"url": rx.url, "events": ["message.send"]});
    to_any(
        &client,
        &ports,
        0,
        &t,
        "/api/v1/webhook/endpoint/create",
        &endpoint,
    )
    .await;
    let robot = json!({"definition": LOGISTICS, "default": true});
    to_any(&client, &ports, 1, &t, "/api/v1/robot/create", &robot).await;

    send_all_while_nodes_fail(&client, &mut nodes, &t, &db.url).await;

    let robot_counts = settled(&setup, &t).await;
    let replies = robot_counts[0];
    assert!(
        robot_counts.iter().all(|&c| c == replies),
        "every session's turn ran once: {robot_counts:?}"
    );

    let (sent, duplicates) = deliveries(&setup, &t, &rx).await;
    eprintln!("three nodes: {SESSIONS} sessions, {sent} deliveries, {duplicates} duplicates");
}

/// Six clients send the sessions' first messages while one node dies (`kill -9`, a third
/// of the way) and another restarts (two thirds of the way) under them.
async fn send_all_while_nodes_fail(
    client: &reqwest::Client,
    nodes: &mut [Node],
    t: &TestTenant,
    db_url: &str,
) {
    let ports: Arc<[u16]> = nodes.iter().map(|n| n.port).collect();
    let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for c in 0..6 {
        let (client, ports, t, acked) = (client.clone(), ports.clone(), t.clone(), acked.clone());
        clients.spawn(async move {
            for i in (c..SESSIONS).step_by(6) {
                let body = json!({"call_id": format!("c{i}"), "channel_id": "sicepat_whatsapp",
                    "user": {"id": format!("u{i}"), "name": "nick"},
                    "messages": [{"type": "text", "text": "hi", "msg_id": format!("m{i}")}]});
                let path = "/api/v1/channel/chatbot/message";
                to_any(&client, &ports, i, &t, path, &body).await;
                acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
    }
    let at = |n: usize| {
        let acked = acked.clone();
        async move {
            while acked.load(std::sync::atomic::Ordering::SeqCst) < n {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    at(SESSIONS / 3).await;
    nodes[1].kill();
    at(2 * SESSIONS / 3).await;
    nodes[2].restart(db_url);
    while let Some(done) = clients.join_next().await {
        done.unwrap();
    }
}

/// Waits (a minute at most) until every session's turn has run and every delivery has
/// settled, checking each user message is stored once; each session's robot messages.
async fn settled(setup: &TestApp, t: &TestTenant) -> Vec<usize> {
    let store = &setup.store;
    let deadline = Instant::now() + Duration::from_mins(1);
    loop {
        let mut counts = Vec::with_capacity(SESSIONS);
        let mut due = 0;
        for i in 0..SESSIONS {
            let call_id = CallId::parse(&format!("c{i}")).unwrap();
            let session = store.session(t.id, &call_id).await.unwrap();
            due += usize::from(session.turn_due.is_some());
            let q = MessageQuery {
                call_id,
                after_msg_id: None,
                since: None,
                size: 1000,
                order: SortOrder::OldestFirst,
            };
            let messages = store.list_messages(t.id, &q).await.unwrap();
            let users: Vec<_> = messages
                .iter()
                .filter(|m| m.message.sender_type == SenderType::User)
                .collect();
            assert_eq!(users.len(), 1, "c{i}: the user's message stored once");
            assert_eq!(users[0].message.msg_id, format!("m{i}"));
            let robot = messages
                .iter()
                .filter(|m| m.message.sender_type == SenderType::Robot)
                .count();
            counts.push(robot);
        }
        let stats = store.outbox_stats(SystemClock.now()).await.unwrap();
        if due == 0 && stats.pending == 0 && counts.iter().all(|&c| c > 0) {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {due} turns due, {} deliveries pending, robot replies {counts:?}",
            stats.pending
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `message.send` events, checked to have all arrived; how many and the duplicates.
async fn deliveries(setup: &TestApp, t: &TestTenant, rx: &WebhookReceiver) -> (usize, usize) {
    let q = EventQuery {
        limit: 10_000,
        ..EventQuery::default()
    };
    let sent: HashSet<String> = setup
        .store
        .list_events(t.id, &q)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.event_type == "message.send")
        .map(|e| e.event.event_id)
        .collect();
    // A turn's replies go out as one `message.send`.
    assert_eq!(sent.len(), SESSIONS, "one message.send per turn");
    let mut arrivals: HashMap<String, usize> = HashMap::new();
    for r in rx.received() {
        *arrivals
            .entry(r.header("webhook-id").to_owned())
            .or_default() += 1;
    }
    let missing: Vec<_> = sent
        .iter()
        .filter(|id| !arrivals.contains_key(*id))
        .collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
    let duplicates: usize = arrivals.values().map(|n| n - 1).sum();
    // At least once: a node killed between a send and its record sends it again.
    assert!(duplicates <= SESSIONS, "{duplicates} duplicates");
    (sent.len(), duplicates)
}
