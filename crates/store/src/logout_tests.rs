//! Ending sessions for logout and the outbox leases, on an in-memory SQLite database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::clients::Client;
use crate::codes::TokenRecord;
use crate::sessions::SessionRecord;
use crate::testdb;
use crate::users::{User, UserStatus};

const T: i64 = 1_750_000_000;
const GIVE_UP: i64 = T + 86_400;

pub(crate) async fn world() -> Store {
    let store = testdb::store().await;
    store
        .insert_user(&User {
            id: "u1".into(),
            username: "an.nv".into(),
            display_name: "Nguyễn Văn An".into(),
            email: None,
            phone: None,
            status: UserStatus::Active,
            unit_id: None,
            password_hash: None,
            password_must_change: false,
            roles: vec![],
            created_at: T,
            updated_at: T,
        })
        .await
        .unwrap();
    for (id, bcl) in [
        ("vanban", Some("https://vanban.test/bcl")),
        ("motcua", Some("https://motcua.test/bcl")),
        ("thuvien", None),
    ] {
        store
            .insert_client(&Client {
                id: id.into(),
                name: id.into(),
                public: false,
                secret_hash: None,
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                backchannel_logout_uri: bcl.map(str::to_owned),
                allowed_scopes: vec!["openid".into()],
                token_alg: "ES256".into(),
                min_acr: None,
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                auth_method: "client_secret_basic".into(),
                jwks: None,
                jwks_uri: None,
                refresh_idle_ttl: None,
                refresh_absolute_ttl: None,
                unit_id: None,
                admin_console: false,
                created_at: T,
                updated_at: T,
            })
            .await
            .unwrap();
    }
    store
}

async fn session(store: &Store, id: &str, clients: &[&str]) {
    store
        .insert_session(
            &SessionRecord {
                id: id.into(),
                sid: format!("sid-{id}"),
                user_id: "u1".into(),
                auth_time: T,
                amr: vec!["pwd".into()],
                acr: "urn:tessera:loa:1".into(),
                source_ip: None,
                user_agent: None,
                created_at: T,
                last_seen_at: T,
                expires_at: T + 3600,
                ended_at: None,
            },
            &format!("cookie-{id}"),
        )
        .await
        .unwrap();
    for c in clients {
        store.add_session_client(id, c, T).await.unwrap();
        store
            .insert_token(&TokenRecord {
                jti: format!("at-{id}-{c}"),
                kind: "access".into(),
                client_id: (*c).into(),
                user_id: Some("u1".into()),
                session_id: Some(id.into()),
                code_id: None,
                family_id: None,
                scope: "openid".into(),
                issued_at: T,
                expires_at: T + 600,
                revoked_at: None,
            })
            .await
            .unwrap();
    }
}

async fn family(store: &Store, id: &str, session_id: &str, offline: i64) {
    sqlx::query(
        "INSERT INTO refresh_families (id, client_id, user_id, session_id, scope, auth_time, acr, amr, offline, created_at, absolute_expires_at) \
         VALUES ($1, 'vanban', 'u1', $2, 'openid', $3, 'urn:tessera:loa:1', 'pwd', $4, $3, $5)",
    )
    .bind(id)
    .bind(session_id)
    .bind(T)
    .bind(offline)
    .bind(T + 86_400)
    .execute(store.pool())
    .await
    .unwrap();
}

async fn family_revocation(store: &Store, id: &str) -> (Option<i64>, Option<String>) {
    let row = sqlx::query("SELECT revoked_at, revoke_reason FROM refresh_families WHERE id = $1")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    (
        row.try_get("revoked_at").unwrap(),
        row.try_get("revoke_reason").unwrap(),
    )
}

#[tokio::test]
async fn logout_ends_session_revokes_and_queues_in_one_go() {
    let store = world().await;
    session(&store, "s1", &["vanban", "motcua", "thuvien"]).await;
    session(&store, "s2", &["vanban"]).await;
    family(&store, "f-online", "s1", 0).await;
    family(&store, "f-offline", "s1", 1).await;

    let ended = store
        .end_session_with_logout("s1", "logout", T + 10, GIVE_UP)
        .await
        .unwrap()
        .expect("the session was live");
    assert_eq!(ended.sid, "sid-s1");
    assert_eq!(ended.user_id, "u1");
    assert_eq!(ended.tokens_revoked, 3);
    assert_eq!(ended.families_revoked, 1);
    // thuvien registered no back-channel URI.
    assert_eq!(ended.notifications, 2);

    assert!(store.live_session("s1", T + 11).await.unwrap().is_none());
    assert!(store.live_session("s2", T + 11).await.unwrap().is_some());
    let t = store.token("at-s1-vanban").await.unwrap().unwrap();
    assert_eq!(t.revoked_at, Some(T + 10));
    let reason: Option<String> =
        sqlx::query("SELECT revoke_reason FROM tokens WHERE jti = 'at-s1-vanban'")
            .fetch_one(store.pool())
            .await
            .unwrap()
            .try_get("revoke_reason")
            .unwrap();
    assert_eq!(reason.as_deref(), Some("logout"));
    assert_eq!(
        store
            .token("at-s2-vanban")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    assert_eq!(
        family_revocation(&store, "f-online").await,
        (Some(T + 10), Some("logout".into()))
    );
    assert_eq!(family_revocation(&store, "f-offline").await, (None, None));

    let queued = store
        .outbox_state("sid-s1", "motcua")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.entry.user_id, "u1");
    assert_eq!(queued.entry.attempts, 0);
    assert_eq!(queued.next_at, T + 10);
    assert_eq!(queued.entry.give_up_at, GIVE_UP);
    assert!(
        store
            .outbox_state("sid-s1", "thuvien")
            .await
            .unwrap()
            .is_none()
    );

    // A second logout of the same session (another replica, a double click) does nothing.
    let again = store
        .end_session_with_logout("s1", "logout", T + 12, GIVE_UP)
        .await
        .unwrap();
    assert_eq!(again, None);
}

#[tokio::test]
async fn disabling_ends_every_open_session_with_notifications() {
    let store = world().await;
    session(&store, "s1", &["vanban"]).await;
    session(&store, "s2", &["motcua", "vanban"]).await;
    store.end_session("s1", T + 1).await.unwrap();
    let ended = store
        .end_user_sessions_with_logout("u1", "user_disabled", T + 5, GIVE_UP)
        .await
        .unwrap();
    assert_eq!(ended.len(), 1, "s1 had already ended");
    assert_eq!(ended[0].sid, "sid-s2");
    assert_eq!(ended[0].notifications, 2);
    let row = store
        .outbox_state("sid-s2", "vanban")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.entry.reason, "user_disabled");
}

#[tokio::test]
async fn one_claimant_per_entry_and_leases_run_out() {
    let store = world().await;
    session(&store, "s1", &["vanban", "motcua"]).await;
    store
        .end_session_with_logout("s1", "logout", T, GIVE_UP)
        .await
        .unwrap();

    // Not due before its time.
    assert!(
        store
            .claim_outbox("a", T - 1, T + 59, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Two replicas race: every entry goes to exactly one of them.
    let (a, b) = tokio::join!(
        store.claim_outbox("a", T, T + 60, 10),
        store.claim_outbox("b", T, T + 60, 10)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 2, "a={a:?} b={b:?}");
    for e in &a {
        assert!(!b.iter().any(|x| x.client_id == e.client_id));
    }
    // While leased, nobody else gets them.
    assert!(
        store
            .claim_outbox("c", T + 30, T + 90, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The lease of a worker that died runs out; another takes over, and the late one can no
    // longer record anything.
    let (stale_owner, stale) = match a.iter().find(|e| e.client_id == "vanban") {
        Some(e) => ("a", e.clone()),
        None => (
            "b",
            b.iter().find(|e| e.client_id == "vanban").unwrap().clone(),
        ),
    };
    let taken = store.claim_outbox("c", T + 61, T + 121, 10).await.unwrap();
    assert_eq!(taken.len(), 2);
    let vanban = taken.iter().find(|e| e.client_id == "vanban").unwrap();
    assert!(
        !store
            .outbox_delivered(&stale, stale_owner, 200, T + 62)
            .await
            .unwrap()
    );

    // A failure releases the lease and sets the next attempt.
    assert!(
        store
            .outbox_retry(vanban, "c", Some(503), "HTTP 503", T + 70)
            .await
            .unwrap()
    );
    let row = store
        .outbox_state("sid-s1", "vanban")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.entry.attempts, row.next_at, row.lease_until),
        (1, T + 70, 0)
    );
    assert_eq!(row.last_status, Some(503));
    assert!(
        store
            .claim_outbox("c", T + 69, T + 129, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retried = store.claim_outbox("d", T + 70, T + 130, 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].attempts, 1);
    assert!(
        store
            .outbox_delivered(&retried[0], "d", 200, T + 71)
            .await
            .unwrap()
    );
    let row = store
        .outbox_state("sid-s1", "vanban")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.delivered_at, row.entry.attempts, row.last_error),
        (Some(T + 71), 2, None)
    );

    // Delivered and abandoned entries are never claimed again.
    let motcua = taken.iter().find(|e| e.client_id == "motcua").unwrap();
    assert!(
        store
            .outbox_abandon(motcua, "c", None, "not allowed", T + 72)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_outbox("e", T + 10_000, T + 10_060, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.purge_outbox(T + 100).await.unwrap(), 2);
}
