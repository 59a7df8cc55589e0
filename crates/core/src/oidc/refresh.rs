//! The refresh-token grant (RFC 6749 §6) with rotation and re-use detection
//! (RFC 9700 §4.14.2), and the ID token it may carry (OIDC Core §12.2).

use serde_json::json;
use tessera_proto::{ErrorCode, TokenResponse};
use tessera_store::clients::Client;
use tessera_store::group_commit::{Spend, Writes};
use tessera_store::refresh::RefreshFamily;
use tessera_store::users::UserStatus;

use super::issue::{self, AccessGrant, Authn};
use crate::audit::Event;
use crate::params::Params;
use crate::request::RequestMeta;
use crate::{OAuthError, Provider};

fn invalid() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidGrant,
        "the refresh token is invalid, expired or revoked",
    )
}

async fn refuse(
    p: &Provider,
    client: &Client,
    user: Option<&str>,
    meta: &RequestMeta,
    now: i64,
    why: &str,
) -> Result<TokenResponse, OAuthError> {
    p.audit(
        Event::RefreshRefused
            .at(now)
            .maybe_actor(user)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "reason": why })),
    )
    .await?;
    Err(invalid())
}

/// RFC 6749 §6: a narrower scope may be asked for, never a wider one.
fn narrowed_scope(granted: &str, asked: Option<&str>) -> Result<String, OAuthError> {
    let Some(asked) = asked else {
        return Ok(granted.to_owned());
    };
    let granted: Vec<&str> = granted.split(' ').collect();
    let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if asked.iter().any(|s| !granted.contains(s)) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "the scope exceeds what was granted",
        ));
    }
    Ok(asked.join(" "))
}

/// The granted scopes that the client's registration still allows. The administration scope is
/// never refreshed: each of its tokens needs the person's approval (families made before that
/// rule would otherwise go on minting it).
fn current_scope(client: &Client, granted: &str) -> String {
    granted
        .split(' ')
        .filter(|s| *s != crate::admin_api::ADMIN_SCOPE)
        .filter(|s| client.allowed_scopes.iter().any(|a| a == s))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A scope asked for explicitly must still be allowed to the client.
fn still_allowed(client: &Client, asked: &str) -> Result<(), OAuthError> {
    if current_scope(client, asked).len() == asked.len() {
        return Ok(());
    }
    Err(OAuthError::new(
        ErrorCode::InvalidScope,
        "the scope is no longer allowed to this client",
    ))
}

pub async fn grant(
    p: &Provider,
    client: &Client,
    params: &Params,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    let id = super::token::presented_id(params, "refresh_token")?;
    // Look before spending, so that another client cannot burn a token it merely saw.
    let Some((peeked, family)) = p.store.refresh_token(&id).await? else {
        return Err(invalid());
    };
    if family.client_id != client.id {
        return refuse(
            p,
            client,
            Some(&family.user_id),
            meta,
            now,
            "refresh token of another client",
        )
        .await;
    }
    if peeked.used_at.is_some() {
        return reused(p, client, &family, meta, now).await;
    }
    // A scope the family does not cover is refused before the token is spent: the refusal
    // must leave it usable, or the client's retry would look like re-use and revoke the family.
    let asked = narrowed_scope(&family.scope, params.get("scope"))?;
    if params.get("scope").is_some() {
        still_allowed(client, &asked)?;
    }
    // From here on every answer spends the token, in the batch that records the answer (see
    // `tessera_store::group_commit`): of concurrent uses exactly one commits the spend.
    let user_id = Some(family.user_id.as_str());
    let id = id.as_str();
    let spend = || Writes::spending(Spend::RefreshToken(id.to_owned()));
    let refuse_spending = |why: &'static str| async move {
        let event = Event::RefreshRefused
            .at(now)
            .maybe_actor(user_id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "reason": why }));
        if p.commit(event, spend()).await? {
            Err(invalid())
        } else {
            lost(p, client, id, meta, now).await
        }
    };
    if family.revoked_at.is_some() {
        return refuse(p, client, user_id, meta, now, "family revoked").await;
    }
    if now >= peeked.expires_at || now >= family.absolute_expires_at {
        return refuse_spending("refresh token expired").await;
    }
    let subject = p
        .store
        .grant_subject(&family.user_id, family.session_id.as_deref(), now)
        .await?;
    let Some((user, session)) = subject else {
        return refuse_spending("user no longer exists").await;
    };
    if user.status != UserStatus::Active {
        return refuse_spending("user is disabled").await;
    }
    if !family.offline && session.is_none() {
        return refuse_spending("the session has ended").await;
    }
    // The registration may have lost scopes since the grant: never hand them out again.
    let scope = current_scope(client, &asked);
    if scope.is_empty() {
        return refuse_spending("the client lost every granted scope").await;
    }
    let authn = Authn {
        user: &user,
        session_id: family.session_id.as_deref(),
        sid: session.as_ref().map(|s| s.sid.as_str()),
        auth_time: family.auth_time,
        acr: &family.acr,
        amr: &family.amr,
    };
    let (next, refresh_token) = issue::next_refresh_token(p, client, &family, now)?;
    let grant = AccessGrant {
        client,
        authn: Some(authn),
        scope: &scope,
        code_id: None,
        family_id: Some(&family.id),
    };
    let (access_token, record) = issue::access_token(p, &grant, now).await?;
    let id_token = if scope.split(' ').any(|s| s == "openid") {
        Some(issue::id_token(p, client, &authn, &scope, None, &access_token, now).await?)
    } else {
        None
    };
    let issued = Event::TokenIssued
        .at(now)
        .actor(&user.id)
        .client(&client.id)
        .meta(meta)
        .detail(json!({ "grant_type": "refresh_token", "family": family.id }));
    let writes = Writes {
        refresh_tokens: vec![next],
        tokens: vec![record],
        ..spend()
    };
    if !p.commit(issued, writes).await? {
        return lost(p, client, id, meta, now).await;
    }
    Ok(issue::bearer(
        p,
        access_token,
        id_token,
        Some(refresh_token),
        scope,
    ))
}

/// The spend was lost: another request spent the token first (re-use), or its family was
/// revoked meanwhile.
async fn lost(
    p: &Provider,
    client: &Client,
    id: &str,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    match p.store.refresh_token(id).await? {
        Some((t, f)) if t.used_at.is_some() => reused(p, client, &f, meta, now).await,
        Some((_, f)) => refuse(p, client, Some(&f.user_id), meta, now, "family revoked").await,
        None => Err(invalid()),
    }
}

/// A spent token came back: either the client or a thief holds a copy. End them all.
async fn reused(
    p: &Provider,
    client: &Client,
    family: &RefreshFamily,
    meta: &RequestMeta,
    now: i64,
) -> Result<TokenResponse, OAuthError> {
    p.store
        .revoke_refresh_family(&family.id, "reuse", now)
        .await?;
    crate::alerts::raise(
        p,
        crate::alerts::Alert::RefreshTokenReuse,
        Event::RefreshReused
            .at(now)
            .actor(&family.user_id)
            .client(&client.id)
            .meta(meta)
            .detail(json!({ "family": family.id })),
    )
    .await?;
    Err(invalid())
}
