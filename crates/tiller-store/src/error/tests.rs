use std::collections::BTreeSet;

use tiller_core::{StoreError, Unique};

use super::{sqlite_error, unique_of, UNIQUES};

/// What a log line with `error = ?e` and its `source()` chain shows.
fn log_text(e: &StoreError) -> String {
    let mut out = format!("{e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(" / ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[test]
fn logged_errors_carry_no_statement_text() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let placeholders = vec!["?"; 40_000].join(",");
    let sql = format!("SELECT 1 WHERE 1 IN ({placeholders})");
    let e = conn.prepare(&sql).map(|_| ()).unwrap_err();
    let logged = log_text(&sqlite_error(e));
    assert!(logged.len() < 600, "{} bytes: {logged:.200}", logged.len());
    assert!(!logged.contains("?,?"), "{logged}");
    let e = conn.prepare("SELEC nonsense").map(|_| ()).unwrap_err();
    let logged = log_text(&sqlite_error(e));
    assert!(logged.contains("syntax error"), "{logged}");
}

#[test]
fn maps_constraints_on_both_dialects() {
    assert_eq!(
        unique_of(None, "UNIQUE constraint failed: tenants.company"),
        Some(Unique::TenantCompany)
    );
    assert_eq!(
        unique_of(Some("tenants_company_key"), "duplicate key"),
        Some(Unique::TenantCompany)
    );
    assert_eq!(
        unique_of(Some("tenants_app_key_key"), "duplicate key"),
        Some(Unique::TenantAppKey)
    );
    assert_eq!(
        unique_of(
            None,
            "UNIQUE constraint failed: messages.tenant_id, messages.msg_id"
        ),
        Some(Unique::MessageMsgId)
    );
    assert_eq!(
        unique_of(Some("messages_msg_id_key"), "duplicate key"),
        Some(Unique::MessageMsgId)
    );
    // Unmapped constraints are no conflict, whichever dialect names them.
    assert_eq!(unique_of(Some("tenants_pkey"), "duplicate key"), None);
    assert_eq!(unique_of(None, "UNIQUE constraint failed: t.name"), None);
    assert_eq!(unique_of(None, "NOT NULL constraint failed: t.name"), None);
}

#[test]
fn every_unique_has_one_row() {
    for u in Unique::ALL {
        let rows = UNIQUES.iter().filter(|(v, _, _)| v == u).count();
        assert_eq!(rows, 1, "{u:?} has {rows} rows in UNIQUES");
    }
    let pg: BTreeSet<_> = UNIQUES.iter().map(|(_, pg, _)| pg).collect();
    let sqlite: BTreeSet<_> = UNIQUES.iter().map(|(_, _, sqlite)| sqlite).collect();
    assert_eq!(pg.len(), UNIQUES.len(), "a PostgreSQL name is in two rows");
    assert_eq!(sqlite.len(), UNIQUES.len(), "a SQLite name is in two rows");
}
