//! The OpenAPI document: served at /openapi.json, generated from the code, committed as
//! docs/openapi.json. Regenerate after an API change with
//! `UPDATE_OPENAPI=1 cargo test -p tiller-server --test api openapi`.

use serde_json::Value;

use crate::helpers::TestApp;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

/// Every route the server has, by method and path template.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("post", "/service/cloud/auth"),
    ("get", "/service/cloud/company/info"),
    ("post", "/api/v1/company/info"),
    ("post", "/api/v1/channel/{channel}/message"),
    ("post", "/api/v1/channel/message/status"),
    ("post", "/api/v1/channel/message/report"),
    ("post", "/api/v1/channel/user/message/report"),
    ("post", "/api/v1/session/message/send"),
    ("post", "/api/v1/session/messages"),
    ("post", "/api/v1/session/message/list"),
    ("post", "/api/v1/session/message/read"),
    ("post", "/api/v1/session/list"),
    ("post", "/api/v1/session/end"),
    ("post", "/api/v1/session/transfer/result"),
    ("post", "/api/v1/robot/create"),
    ("post", "/api/v1/robot/list"),
    ("post", "/api/v1/robot/detail"),
    ("post", "/api/v1/seat/save"),
    ("post", "/api/v1/seat/list"),
    ("post", "/api/v1/session/report"),
    ("post", "/api/v1/file/upload"),
    ("get", "/files/{tenant}/{id}/{name}"),
    ("get", "/saas/openapi/tenant/info"),
    ("get", "/saas/openapi/chat/records"),
    ("post", "/api/v1/webhook/endpoint/create"),
    ("post", "/api/v1/webhook/endpoint/list"),
    ("post", "/api/v1/webhook/endpoint/update"),
    ("post", "/api/v1/webhook/endpoint/rotate_secret"),
    ("post", "/api/v1/webhook/endpoint/health"),
    ("post", "/api/v1/webhook/event/list"),
    ("post", "/api/v1/webhook/event/attempts"),
    ("post", "/api/v1/webhook/event/replay"),
    ("get", "/webhooks/whatsapp/{channel_id}"),
    ("post", "/webhooks/whatsapp/{channel_id}"),
];

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, 200);
    let served = reply.json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let pretty = serde_json::to_string_pretty(&served).unwrap();
        std::fs::write(COMMITTED, pretty + "\n").unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(COMMITTED).unwrap())
        .expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json has drifted from the code; regenerate it with \
         UPDATE_OPENAPI=1 cargo test -p tiller-server --test api openapi"
    );
}

#[tokio::test]
async fn every_route_is_described_with_its_security() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let described: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        described,
        ROUTES.len(),
        "every route and only these: {:?}",
        paths.keys()
    );
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not described");
        assert!(
            op["responses"]["200"].is_object(),
            "{method} {path} has no 200 response"
        );
        for requirement in op["security"].as_array().into_iter().flatten() {
            for name in requirement.as_object().unwrap().keys() {
                assert!(
                    schemes.contains_key(name),
                    "{method} {path} names unknown scheme {name}"
                );
            }
        }
        let signed = path.starts_with("/api/v1")
            || path.starts_with("/saas")
            || *path == "/service/cloud/company/info";
        assert_eq!(
            op["security"].is_array(),
            signed,
            "{method} {path}: security requirement"
        );
    }
}

#[tokio::test]
async fn errors_and_input_rules_are_documented() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await.json();
    let ops = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    for (method, path) in ROUTES {
        let responses = &doc["paths"][path][method]["responses"];
        if path.starts_with("/saas") {
            let body = &responses["200"]["content"]["application/json"]["schema"];
            let refs: Vec<&str> = body["oneOf"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: 200 is not oneOf: {body}"))
                .iter()
                .filter_map(|s| s["$ref"].as_str())
                .collect();
            assert!(
                refs.contains(&"#/components/schemas/NxError"),
                "{path}: {refs:?}"
            );
        } else if !ops.contains(path) {
            let bad = &responses["400"]["content"]["application/json"]["schema"]["$ref"];
            let envelope = if path.starts_with("/service") {
                "#/components/schemas/CloudError"
            } else {
                "#/components/schemas/V1Error"
            };
            assert_eq!(bad, envelope, "{method} {path}: the 400");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["NxError"]["properties"]["traceId"].is_object());
    let read = &schemas["MarkReadIn"];
    assert_eq!(
        read["additionalProperties"], true,
        "unknown fields are ignored"
    );
    assert_eq!(read["properties"]["call_id"]["maxLength"], 128);
    assert_eq!(read["properties"]["msg_ids"]["maxItems"], 1000);
    assert_eq!(
        schemas["ListMessagesIn"]["properties"]["size"]["maximum"],
        100
    );
    assert_eq!(
        schemas["UserMessagesIn"]["properties"]["messages"]["maxItems"],
        100
    );
}
