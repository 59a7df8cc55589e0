//! The person behind a grant, read in one round trip: a token grant (code redemption, refresh)
//! needs the user, their roles and whether their session still lives, and asking for them one
//! query at a time cost three round trips per grant (BENCHMARKS.md, issue 14).

use sqlx::{AssertSqlSafe, Row};

use crate::sessions::{SESSION_COLUMNS, SessionRecord, session_from_prefixed};
use crate::users::{COLUMNS, User, from_row};
use crate::{Result, Store};

/// Session columns in the join are named `s_<column>`.
const PREFIX: &str = "s_";

impl Store {
    /// The user `user_id` with their roles and, when `session_id` is given, that session if it
    /// has not ended and has not expired at `now` (as [`Store::live_session`]).
    pub async fn grant_subject(
        &self,
        user_id: &str,
        session_id: Option<&str>,
        now: i64,
    ) -> Result<Option<(User, Option<SessionRecord>)>> {
        let user_columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("u.{c}")).collect();
        let session_columns: Vec<String> = SESSION_COLUMNS
            .split(", ")
            .map(|c| format!("s.{c} AS {PREFIX}{c}"))
            .collect();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {}, r.role AS role, {} FROM users u \
             LEFT JOIN user_roles r ON r.user_id = u.id \
             LEFT JOIN sessions s ON s.id = $2 AND s.ended_at IS NULL AND s.expires_at > $3 \
             WHERE u.id = $1 ORDER BY r.role",
            user_columns.join(", "),
            session_columns.join(", ")
        )))
        .bind(user_id)
        .bind(session_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut user = from_row(first)?;
        for row in &rows {
            if let Some(role) = row.try_get::<Option<String>, _>("role")? {
                user.roles.push(role);
            }
        }
        let session = match first.try_get::<Option<String>, _>("s_id")? {
            Some(_) => Some(session_from_prefixed(first, PREFIX)?),
            None => None,
        };
        Ok(Some((user, session)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::sessions::SessionRecord;
    use crate::testdb;
    use crate::users::{User, UserStatus};

    const T: i64 = 1_750_000_000;

    fn person(id: &str, roles: &[&str]) -> User {
        User {
            id: id.into(),
            username: format!("user.{id}"),
            display_name: "Trần Thị Bình".into(),
            email: Some("binh@haiphong.gov.vn".into()),
            phone: None,
            status: UserStatus::Active,
            unit_id: None,
            password_hash: None,
            password_must_change: false,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            created_at: T,
            updated_at: T,
        }
    }

    fn session(id: &str, user: &str) -> SessionRecord {
        SessionRecord {
            id: id.into(),
            sid: format!("sid-{id}"),
            user_id: user.into(),
            auth_time: T,
            amr: vec!["pwd".into(), "otp".into()],
            acr: "urn:tessera:loa:2".into(),
            source_ip: Some("10.0.0.7".into()),
            user_agent: None,
            created_at: T,
            last_seen_at: T,
            expires_at: T + 3600,
            ended_at: None,
        }
    }

    /// The one-query read answers what `user_by_id` and `live_session` answer separately.
    #[tokio::test]
    async fn reads_what_the_separate_queries_read() {
        let store = testdb::store().await;
        store
            .insert_user(&person("u1", &["signer", "admin"]))
            .await
            .unwrap();
        store.insert_user(&person("u2", &[])).await.unwrap();
        for (id, user) in [("s1", "u1"), ("s2", "u1"), ("s3", "u2")] {
            store
                .insert_session(&session(id, user), &format!("cookie-{id}"))
                .await
                .unwrap();
        }
        store.end_session("s2", T + 10).await.unwrap();

        assert_eq!(store.grant_subject("nobody", None, T).await.unwrap(), None);
        for (user, sid, now) in [
            ("u1", Some("s1"), T + 20),
            ("u1", Some("s2"), T + 20),
            ("u1", Some("s1"), T + 3600),
            ("u1", None, T),
            ("u1", Some("missing"), T),
            ("u2", Some("s3"), T + 1),
            ("u2", None, T + 1),
        ] {
            let (got_user, got_session) =
                store.grant_subject(user, sid, now).await.unwrap().unwrap();
            assert_eq!(Some(got_user), store.user_by_id(user).await.unwrap());
            let expected = match sid {
                Some(sid) => store.live_session(sid, now).await.unwrap(),
                None => None,
            };
            assert_eq!(got_session, expected, "{user} {sid:?} at {now}");
        }
        let (u1, live) = store
            .grant_subject("u1", Some("s1"), T)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u1.roles, ["admin", "signer"]);
        assert_eq!(live.unwrap().amr, ["pwd", "otp"]);
    }
}
