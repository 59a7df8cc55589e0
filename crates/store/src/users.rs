//! Users (officials and citizens) and their roles.

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, is_unique_violation};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Disabled,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Disabled => "disabled",
        }
    }
    fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(UserStatus::Active),
            "disabled" => Ok(UserStatus::Disabled),
            other => Err(StoreError::Corrupt(format!("user status {other}"))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Stable opaque identifier, used as the `sub` claim.
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: UserStatus,
    pub unit_id: Option<String>,
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, username, display_name, email, phone, status, unit_id, password_hash, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<User> {
    let status: String = row.try_get("status")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        status: UserStatus::parse(&status)?,
        unit_id: row.try_get("unit_id")?,
        password_hash: row.try_get("password_hash")?,
        roles: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_user(&self, user: &User) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.phone)
        .bind(user.status.as_str())
        .bind(&user.unit_id)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("user {}", user.username))
            } else {
                e.into()
            }
        })?;
        for role in &user.roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(&user.id)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn with_roles(&self, user: Option<User>) -> Result<Option<User>> {
        let Some(mut user) = user else {
            return Ok(None);
        };
        user.roles = sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(&user.id)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("role"))
            .collect::<Result<_, _>>()?;
        Ok(Some(user))
    }

    pub async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(self.pool())
        .await?;
        self.with_roles(row.as_ref().map(from_row).transpose()?)
            .await
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        self.with_roles(row.as_ref().map(from_row).transpose()?)
            .await
    }

    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users ORDER BY username"
        )))
        .fetch_all(self.pool())
        .await?;
        let mut users = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(user) = self.with_roles(Some(from_row(row)?)).await? {
                users.push(user);
            }
        }
        Ok(users)
    }

    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Returns false when no such user exists.
    pub async fn set_user_status(
        &self,
        username: &str,
        status: UserStatus,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE username = $3")
            .bind(status.as_str())
            .bind(now)
            .bind(username)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testdb;

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            username: name.into(),
            display_name: "Nguyễn Văn An".into(),
            email: Some("an@haiphong.gov.vn".into()),
            phone: None,
            status: UserStatus::Active,
            unit_id: None,
            password_hash: None,
            roles: vec!["signer".into(), "official".into()],
            created_at: 1,
            updated_at: 1,
        }
    }

    #[tokio::test]
    async fn user_round_trip_and_unique_username() {
        let store = testdb::store().await;
        store.insert_user(&user("u1", "an.nv")).await.unwrap();
        let got = store.user_by_username("an.nv").await.unwrap().unwrap();
        assert_eq!(got.display_name, "Nguyễn Văn An");
        assert_eq!(
            got.roles,
            vec!["official".to_string(), "signer".to_string()]
        );
        let err = store.insert_user(&user("u2", "an.nv")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert!(
            store
                .set_user_status("an.nv", UserStatus::Disabled, 5)
                .await
                .unwrap()
        );
        assert!(
            !store
                .set_user_status("nobody", UserStatus::Disabled, 5)
                .await
                .unwrap()
        );
        let got = store.user_by_id("u1").await.unwrap().unwrap();
        assert_eq!(got.status, UserStatus::Disabled);
    }
}
