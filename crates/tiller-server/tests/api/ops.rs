use reqwest::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = TestApp::spawn().await;
    let reply = app.get("/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
}

#[tokio::test]
async fn readyz_reports_database_and_migrations() {
    let app = TestApp::spawn().await;
    let reply = app.get("/readyz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["migrations"]["status"], "ok");
    assert!(
        ["sqlite", "postgres"].contains(&body["checks"]["database"]["backend"].as_str().unwrap())
    );
}

#[tokio::test]
async fn readyz_is_unavailable_when_migrations_are_pending() {
    let app = TestApp::spawn_with(|cfg| cfg.database.migrate_on_start = false).await;
    let reply = app.get("/readyz").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.text
    );
    assert_eq!(reply.json()["checks"]["migrations"]["status"], "pending");
    // Liveness is not readiness: the process still answers /healthz.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = TestApp::spawn().await;
    app.get("/healthz").await;
    app.get("/healthz").await;
    app.get("/no/such/route").await;
    app.post_json("/service/cloud/auth", r#"{"APPKey":"x","APPSecret":"y"}"#)
        .await;
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let text = reply.text;
    assert!(
        text.contains(
            r#"tiller_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/service/cloud/auth",status="401"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"tiller_http_request_duration_seconds_count{method="GET",route="/healthz"} 2"#
        ),
        "{text}"
    );
}

#[tokio::test]
async fn request_ids_are_generated_or_propagated() {
    let app = TestApp::spawn().await;
    let generated = app.get("/healthz").await;
    let id = generated.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 32);
    let given = app
        .send(
            reqwest::Method::GET,
            "/healthz",
            &[("x-request-id", "trace-abc-123")],
            "",
        )
        .await;
    assert_eq!(given.headers["x-request-id"], "trace-abc-123");
    // The envelope's request_id is the same id.
    let err = app
        .send(
            reqwest::Method::GET,
            "/nope",
            &[("x-request-id", "trace-xyz")],
            "",
        )
        .await;
    assert_eq!(err.json()["request_id"], "trace-xyz");
}
