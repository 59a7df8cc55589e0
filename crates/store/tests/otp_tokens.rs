//! Hardware OTP tokens in the store, on SQLite and (with `TESSERA_TEST_DATABASE_URL`)
//! PostgreSQL: round trip, unique serials, each code spent once, disabling and removal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_store::otp_tokens::{OtpAlgorithm, OtpKind, OtpToken};
use tessera_store::users::{User, UserStatus};
use tessera_store::{Store, StoreError};

mod support;

fn user(id: &str) -> User {
    User {
        id: id.into(),
        username: id.into(),
        display_name: "Nguyễn Văn An".into(),
        email: None,
        phone: None,
        status: UserStatus::Active,
        unit_id: None,
        password_hash: None,
        password_must_change: false,
        roles: vec![],
        created_at: 1,
        updated_at: 1,
    }
}

fn token(id: &str, user_id: &str, serial: &str, kind: OtpKind) -> OtpToken {
    OtpToken {
        id: id.into(),
        user_id: user_id.into(),
        serial: serial.into(),
        kind,
        secret: vec![0, 1, 2, 255],
        digits: 8,
        algorithm: OtpAlgorithm::Sha256,
        period: (kind == OtpKind::Totp).then_some(60),
        last_used: -1,
        last_used_at: None,
        disabled: false,
        created_at: 100,
    }
}

async fn scenario(store: &Store) {
    store.insert_user(&user("u1")).await.unwrap();
    store.insert_user(&user("u2")).await.unwrap();
    let hotp = token("t1", "u1", "FT-0001", OtpKind::Hotp);
    store.insert_otp_token(&hotp).await.unwrap();
    let totp = OtpToken {
        created_at: 101,
        algorithm: OtpAlgorithm::Sha512,
        ..token("t2", "u1", "FT-0002", OtpKind::Totp)
    };
    store.insert_otp_token(&totp).await.unwrap();
    assert_eq!(
        store.otp_tokens_of("u1").await.unwrap(),
        vec![hotp.clone(), totp.clone()]
    );

    // A serial belongs to one token, whoever holds it.
    let dup = store
        .insert_otp_token(&token("t3", "u2", "FT-0001", OtpKind::Totp))
        .await
        .unwrap_err();
    assert!(matches!(dup, StoreError::Conflict(_)), "{dup}");
    // A token without a period is not a TOTP token.
    let no_period = OtpToken {
        period: None,
        ..token("t4", "u2", "FT-0004", OtpKind::Totp)
    };
    assert!(store.insert_otp_token(&no_period).await.is_err());
    assert!(store.otp_tokens_of("u2").await.unwrap().is_empty());

    // Each code is spent once and nothing behind the last one counts.
    assert!(store.spend_otp_token("t1", 0, 200).await.unwrap());
    assert!(!store.spend_otp_token("t1", 0, 201).await.unwrap());
    assert!(store.spend_otp_token("t1", 5, 202).await.unwrap());
    assert!(!store.spend_otp_token("t1", 3, 203).await.unwrap());
    let got = &store.otp_tokens_of("u1").await.unwrap()[0];
    assert_eq!((got.last_used, got.last_used_at), (5, Some(202)));

    // A disabled token spends nothing and does not count.
    assert_eq!(store.enabled_otp_tokens("u1").await.unwrap(), 2);
    assert!(
        store
            .set_otp_token_disabled("u1", "FT-0002", true)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_otp_token_disabled("u1", "FT-0002", true)
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_otp_token_disabled("u2", "FT-0001", true)
            .await
            .unwrap(),
        "only the holder's token"
    );
    assert_eq!(store.enabled_otp_tokens("u1").await.unwrap(), 1);
    assert!(!store.spend_otp_token("t2", 1_000, 300).await.unwrap());
    assert!(
        store
            .set_otp_token_disabled("u1", "FT-0002", false)
            .await
            .unwrap()
    );
    assert!(store.spend_otp_token("t2", 1_000, 301).await.unwrap());

    // Removal: only the holder's token, then all of them.
    assert!(!store.delete_otp_token("u2", "FT-0001").await.unwrap());
    assert!(store.delete_otp_token("u1", "FT-0001").await.unwrap());
    assert!(!store.delete_otp_token("u1", "FT-0001").await.unwrap());
    store
        .insert_otp_token(&token("t5", "u2", "FT-0001", OtpKind::Hotp))
        .await
        .unwrap();
    assert_eq!(store.delete_user_otp_tokens("u1").await.unwrap(), 1);
    assert_eq!(store.enabled_otp_tokens("u1").await.unwrap(), 0);
    assert_eq!(store.otp_tokens_of("u2").await.unwrap().len(), 1);
}

#[tokio::test]
async fn otp_tokens_on_sqlite() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    scenario(&store).await;
}

#[tokio::test]
async fn otp_tokens_on_postgres() {
    let Some(admin_url) = support::postgres_admin_url() else {
        return;
    };
    let db = support::PgDatabase::create(&admin_url).await;
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    scenario(&store).await;
    store.close().await;
}
