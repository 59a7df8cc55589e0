//! Back-Channel Logout 1.0: logout tokens POSTed to every client of the ended session, durable
//! retries, logout on account disable, and the outbound allow-list.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use tessera_e2e::fixture::{Fixture, PASSWORD, USERNAME};
use tessera_e2e::{Backend, LogoutReceiver, Received, ServerOptions, TestServer, flow, oauth};
use tessera_sdk::LoginResult;

scenarios!(
    logout_tokens_reach_every_client_of_the_session,
    a_receiver_that_was_down_gets_it_later,
    disabling_a_user_logs_out_their_applications,
    destinations_off_the_allow_list_are_never_called,
    replicas_deliver_each_logout_once,
    undelivered_logouts_survive_a_restart
);

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const WAIT: Duration = Duration::from_secs(20);

async fn logout(
    fx: &Fixture,
    browser: &tessera_e2e::Browser,
    id_token: &str,
) -> anyhow::Result<()> {
    let mut url = fx.server.url("/logout");
    url.query_pairs_mut().append_pair("id_token_hint", id_token);
    let page = browser.get(&url).await?;
    anyhow::ensure!(page.status.is_success(), "logout: {page}");
    anyhow::ensure!(page.body.contains("Bạn đã đăng xuất"), "logout: {page}");
    Ok(())
}

/// Checks one received notification as a relying party must (§2.6); returns its claims.
async fn check_token(
    server: &TestServer,
    issuer: &str,
    got: &Received,
    client_id: &str,
    login: &LoginResult,
) -> anyhow::Result<serde_json::Value> {
    assert_eq!(
        got.content_type.as_deref(),
        Some("application/x-www-form-urlencoded"),
        "{got:?}"
    );
    let token = got.logout_token.as_deref().context("no logout_token")?;
    let jwks = oauth::get_json(server, "/jwks").await?.json;
    oauth::verify_jws(token, &jwks)?;
    let (header, claims) = oauth::jwt_parts(token)?;
    assert_eq!(header["typ"], "logout+jwt", "{header}");
    assert_eq!(claims["iss"], issuer, "{claims}");
    assert_eq!(claims["aud"], client_id, "{claims}");
    assert_eq!(claims["sub"], login.subject.as_str(), "{claims}");
    assert_eq!(claims["sid"], json!(login.claims.sid), "{claims}");
    assert_eq!(claims["events"][EVENT], json!({}), "{claims}");
    assert!(
        claims.get("nonce").is_none(),
        "a logout token with a nonce: {claims}"
    );
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    let (iat, exp) = (iat.context("no iat")?, exp.context("no exp")?);
    assert!(exp > iat && exp - iat <= 300, "{claims}");
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{claims}"
    );
    Ok(claims)
}

async fn logout_tokens_reach_every_client_of_the_session(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let receiver = LogoutReceiver::start().await?;
    let (browser, logins) = fx
        .sign_in_with_backchannel(&receiver, &["hoso", "motcua"])
        .await?;
    assert_eq!(
        logins[0].claims.sid, logins[1].claims.sid,
        "one SSO session"
    );
    logout(&fx, &browser, &logins[0].id_token).await?;

    let got = receiver.wait_for(2, WAIT).await?;
    let mut jtis = HashSet::new();
    for (id, login) in [("hoso", &logins[0]), ("motcua", &logins[1])] {
        let one = got
            .iter()
            .find(|r| r.path == format!("/{id}/bcl"))
            .with_context(|| format!("nothing for {id}: {got:?}"))?;
        let claims = check_token(&fx.server, fx.server.issuer(), one, id, login).await?;
        jtis.insert(claims["jti"].to_string());
    }
    assert_eq!(jtis.len(), 2);
    let delivered = fx
        .server
        .wait_for_audit("backchannel.delivered", 2, WAIT)
        .await?;
    assert!(
        delivered
            .iter()
            .all(|r| r.outcome == "success" && r.detail["status"] == 200)
    );
    // Sent once: nothing more arrives.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.received().len(), 2);
    Ok(())
}

async fn a_receiver_that_was_down_gets_it_later(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let receiver = LogoutReceiver::start().await?;
    receiver.set_down(true);
    let (browser, logins) = fx.sign_in_with_backchannel(&receiver, &["hoso"]).await?;
    logout(&fx, &browser, &logins[0].id_token).await?;

    let failed = fx
        .server
        .wait_for_audit("backchannel.failed", 2, WAIT)
        .await?;
    assert!(receiver.refused() >= 2);
    assert!(receiver.received().is_empty());
    assert_eq!(failed[0].detail["attempt"], 1, "{failed:?}");
    assert!(failed[0].detail["next_at"].is_i64(), "{failed:?}");

    receiver.set_down(false);
    let got = receiver.wait_for(1, WAIT).await?;
    check_token(&fx.server, fx.server.issuer(), &got[0], "hoso", &logins[0]).await?;
    let delivered = fx
        .server
        .wait_for_audit("backchannel.delivered", 1, WAIT)
        .await?;
    assert!(
        delivered[0].detail["attempt"].as_i64() >= Some(3),
        "{delivered:?}"
    );
    let outbox = fx.server.outbox().await?;
    assert_eq!(outbox.len(), 1);
    let (_, attempts, done, abandoned) = &outbox[0];
    assert!(*attempts >= 3 && *done && !*abandoned, "{outbox:?}");
    Ok(())
}

async fn disabling_a_user_logs_out_their_applications(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let receiver = LogoutReceiver::start().await?;
    let (_browser, logins) = fx.sign_in_with_backchannel(&receiver, &["hoso"]).await?;
    // The command line queues; the running server delivers.
    fx.server.disable_user(USERNAME).await?;
    let got = receiver.wait_for(1, WAIT).await?;
    check_token(&fx.server, fx.server.issuer(), &got[0], "hoso", &logins[0]).await?;
    let disabled = fx.server.audit("user.disabled").await?;
    assert_eq!(disabled[0].detail["backchannel_queued"], 1, "{disabled:?}");
    Ok(())
}

async fn destinations_off_the_allow_list_are_never_called(backend: Backend) -> anyhow::Result<()> {
    // Default settings: no outbound call is allowed.
    let fx = Fixture::start(backend).await?;
    let receiver = LogoutReceiver::start().await?;
    let (browser, logins) = fx.sign_in_with_backchannel(&receiver, &["hoso"]).await?;
    logout(&fx, &browser, &logins[0].id_token).await?;
    let refused = fx
        .server
        .wait_for_audit("backchannel.not_allowed", 1, WAIT)
        .await?;
    assert_eq!(refused[0].outcome, "failure");
    assert_eq!(refused[0].client_id.as_deref(), Some("hoso"));
    let abandoned = fx
        .server
        .wait_for_audit("backchannel.abandoned", 1, WAIT)
        .await?;
    assert!(
        abandoned[0].detail["reason"]
            .as_str()
            .unwrap_or("")
            .contains("allow-list"),
        "{abandoned:?}"
    );
    assert!(receiver.received().is_empty() && receiver.refused() == 0);
    Ok(())
}

async fn replicas_deliver_each_logout_once(backend: Backend) -> anyhow::Result<()> {
    let fx = Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let replica = fx
        .server
        .start_replica(ServerOptions::default().allow_loopback_calls())
        .await?;
    let receiver = LogoutReceiver::start().await?;
    let ids = ["hoso", "motcua", "thuvien"];
    fx.sign_in_with_backchannel(&receiver, &ids).await?;
    // Two more sessions of the same user in other browsers, signed in to every client.
    for _ in 0..2 {
        let browser = fx.browser()?;
        for (i, id) in ids.iter().enumerate() {
            let client = tessera_e2e::RegisteredClient {
                client_id: (*id).to_owned(),
                client_secret: None,
                redirect_uri: format!("http://127.0.0.1:9/{id}/cb"),
            };
            let mut request = oauth::AuthRequest::new(&client);
            request.scope = "openid".into();
            let cb = if i == 0 {
                flow::browser_login(
                    &browser,
                    &fx.server,
                    &request.url(&fx.server),
                    USERNAME,
                    PASSWORD,
                )
                .await?
            } else {
                flow::authorize_silently(&browser, &request.url(&fx.server)).await?
            };
            cb.code()?;
        }
    }
    // Queued by the command line; both replicas' workers poll the outbox and race for it.
    fx.server.disable_user(USERNAME).await?;
    let got = receiver.wait_for(9, WAIT).await?;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let got_now = receiver.received();
    assert_eq!(got_now.len(), 9, "{got:?}");
    let mut seen = HashSet::new();
    for r in &got_now {
        let (_, claims) = oauth::jwt_parts(r.logout_token.as_deref().unwrap_or(""))?;
        assert!(
            seen.insert((r.path.clone(), claims["sid"].to_string())),
            "twice: {r:?}"
        );
    }
    let delivered = fx.server.audit("backchannel.delivered").await?;
    assert_eq!(delivered.len(), 9, "{delivered:?}");
    drop(replica);
    Ok(())
}

async fn undelivered_logouts_survive_a_restart(backend: Backend) -> anyhow::Result<()> {
    let mut fx =
        Fixture::start_with(backend, ServerOptions::default().allow_loopback_calls()).await?;
    let receiver = LogoutReceiver::start().await?;
    receiver.set_down(true);
    let (browser, logins) = fx.sign_in_with_backchannel(&receiver, &["hoso"]).await?;
    logout(&fx, &browser, &logins[0].id_token).await?;
    fx.server
        .wait_for_audit("backchannel.failed", 1, WAIT)
        .await?;
    // The server dies; the receiver comes back; a new process takes the outbox over (after
    // the dead one's lease, at most a minute, if it died in the middle of an attempt).
    fx.server.stop();
    receiver.set_down(false);
    let restarted = fx
        .server
        .start_replica(ServerOptions::default().allow_loopback_calls())
        .await?;
    let got = receiver.wait_for(1, Duration::from_secs(90)).await?;
    check_token(&restarted, fx.server.issuer(), &got[0], "hoso", &logins[0]).await?;
    // The receiver has the token before the server records the delivery: give it a moment.
    let mut outbox = restarted.outbox().await?;
    for _ in 0..50 {
        if outbox.first().is_some_and(|row| row.2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        outbox = restarted.outbox().await?;
    }
    assert!(outbox[0].2, "{outbox:?}");
    Ok(())
}
