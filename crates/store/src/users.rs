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
    /// The password was set by an administrator: it must be changed at the next sign-in.
    pub password_must_change: bool,
    pub roles: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub(crate) const COLUMNS: &str = "id, username, display_name, email, phone, status, unit_id, password_hash, password_must_change, created_at, updated_at";

pub(crate) fn from_row(row: &AnyRow) -> Result<User> {
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
        password_must_change: row.try_get::<i64, _>("password_must_change")? != 0,
        roles: Vec::new(),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    pub async fn insert_user(&self, user: &User) -> Result<()> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(&user.phone)
        .bind(user.status.as_str())
        .bind(&user.unit_id)
        .bind(&user.password_hash)
        .bind(i64::from(user.password_must_change))
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

/// Which users to list: those of `units` (and, with `unitless`, those without a unit), whose
/// username or display name contains `text`, with `status`.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub units: Vec<String>,
    pub unitless: bool,
    pub text: Option<String>,
    pub status: Option<UserStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// Profile fields an administrator may change.
#[derive(Clone, Debug)]
pub struct ProfileUpdate {
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub unit_id: Option<String>,
    pub roles: Vec<String>,
}

impl Store {
    /// Users matching `filter`, ordered by username.
    pub async fn list_users_filtered(&self, filter: &UserFilter) -> Result<Vec<User>> {
        let mut scope = Vec::new();
        if !filter.units.is_empty() {
            let marks: Vec<String> = (1..=filter.units.len()).map(|i| format!("${i}")).collect();
            scope.push(format!("unit_id IN ({})", marks.join(", ")));
        }
        if filter.unitless {
            scope.push("unit_id IS NULL".into());
        }
        if scope.is_empty() {
            return Ok(Vec::new());
        }
        let mut n = filter.units.len();
        let mut sql = format!("SELECT {COLUMNS} FROM users WHERE ({})", scope.join(" OR "));
        if filter.text.is_some() {
            n += 1;
            sql.push_str(&format!(
                " AND (LOWER(username) LIKE ${n} ESCAPE '\\' OR LOWER(display_name) LIKE ${n} ESCAPE '\\')"
            ));
        }
        if filter.status.is_some() {
            n += 1;
            sql.push_str(&format!(" AND status = ${n}"));
        }
        sql.push_str(&format!(
            " ORDER BY username LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for unit in &filter.units {
            q = q.bind(unit);
        }
        if let Some(text) = &filter.text {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            q = q.bind(format!("%{escaped}%"));
        }
        if let Some(status) = filter.status {
            q = q.bind(status.as_str());
        }
        let rows = q
            .bind(filter.limit)
            .bind(filter.offset)
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

    /// Replaces a user's profile and application roles. Returns false when no such user exists.
    pub async fn update_user_profile(&self, id: &str, u: &ProfileUpdate, now: i64) -> Result<bool> {
        let mut tx = self.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE users SET display_name = $1, email = $2, phone = $3, unit_id = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&u.display_name)
        .bind(&u.email)
        .bind(&u.phone)
        .bind(&u.unit_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        for role in &u.roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces a user's password hash; `must_change` when an administrator set it. Returns
    /// false when no such user exists.
    pub async fn set_user_password(
        &self,
        id: &str,
        password_hash: &str,
        must_change: bool,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_must_change = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(password_hash)
        .bind(i64::from(must_change))
        .bind(now)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Replaces the password of someone who proved the current one, as one compare-and-set on
    /// the hash: of two concurrent changes only one wins. Clears `password_must_change`.
    pub async fn change_user_password(
        &self,
        id: &str,
        old_hash: &str,
        new_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET password_hash = $1, password_must_change = 0, updated_at = $2 WHERE id = $3 AND password_hash = $4",
        )
        .bind(new_hash)
        .bind(now)
        .bind(id)
        .bind(old_hash)
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
            password_must_change: false,
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
