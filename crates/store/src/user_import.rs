//! Bulk import of people (`tessera user import`): rows already validated by the core are
//! written a batch per transaction, each matched by username, so a re-run updates instead of
//! creating twice.

use sqlx::Row;

use crate::{Result, Store};

/// One person as the import wants them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedUser {
    /// Used only when the person is new.
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub unit_id: Option<String>,
    /// Sorted; `None` leaves an existing person's roles alone (the directory sync, where
    /// roles are Tessera's, not the directory's).
    pub roles: Option<Vec<String>>,
    pub title: Option<String>,
    /// The directory entry the person comes from (LDAP sync); `None` leaves it as it is. A
    /// person the sync disabled because they had left is enabled again when they come back.
    pub directory_dn: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    Created,
    Updated,
    Unchanged,
}

impl Store {
    /// Creates or updates every user of `batch` in one transaction (`dry_run`: looks only);
    /// returns each one's outcome and id. New people get no password: an administrator sets a
    /// temporary one (`tessera user passwd --temporary`, the administration API's reset).
    pub async fn import_users(
        &self,
        batch: &[ImportedUser],
        dry_run: bool,
        now: i64,
    ) -> Result<Vec<(ImportOutcome, String)>> {
        let mut tx = self.pool().begin().await?;
        let mut out = Vec::with_capacity(batch.len());
        for u in batch {
            let row = sqlx::query(
                "SELECT id, display_name, email, phone, unit_id, title, directory_dn, directory_left_at FROM users WHERE username = $1",
            )
            .bind(&u.username)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                if !dry_run {
                    sqlx::query(
                        "INSERT INTO users (id, username, display_name, email, phone, status, unit_id, password_hash, password_must_change, title, created_at, updated_at, directory_dn) \
                         VALUES ($1, $2, $3, $4, $5, 'active', $6, NULL, 0, $7, $8, $8, $9)",
                    )
                    .bind(&u.id)
                    .bind(&u.username)
                    .bind(&u.display_name)
                    .bind(&u.email)
                    .bind(&u.phone)
                    .bind(&u.unit_id)
                    .bind(&u.title)
                    .bind(now)
                    .bind(&u.directory_dn)
                    .execute(&mut *tx)
                    .await?;
                    insert_roles(&mut tx, &u.id, u.roles.as_deref().unwrap_or_default()).await?;
                }
                out.push((ImportOutcome::Created, u.id.clone()));
                continue;
            };
            let id: String = row.try_get("id")?;
            let mut roles: Vec<String> =
                sqlx::query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                    .bind(&id)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|r| r.try_get("role"))
                    .collect::<std::result::Result<_, _>>()?;
            roles.sort();
            let roles_same = u.roles.as_ref().is_none_or(|r| *r == roles);
            let dn_same = u.directory_dn.is_none()
                || row.try_get::<Option<String>, _>("directory_dn")? == u.directory_dn;
            // Back in the directory after the sync disabled them for leaving.
            let returned = u.directory_dn.is_some()
                && row
                    .try_get::<Option<i64>, _>("directory_left_at")?
                    .is_some();
            let same = row.try_get::<String, _>("display_name")? == u.display_name
                && row.try_get::<Option<String>, _>("email")? == u.email
                && row.try_get::<Option<String>, _>("phone")? == u.phone
                && row.try_get::<Option<String>, _>("unit_id")? == u.unit_id
                && row.try_get::<Option<String>, _>("title")? == u.title
                && roles_same
                && dn_same
                && !returned;
            if same {
                out.push((ImportOutcome::Unchanged, id));
                continue;
            }
            if !dry_run {
                sqlx::query(
                    "UPDATE users SET display_name = $1, email = $2, phone = $3, unit_id = $4, title = $5, updated_at = $6, \
                     directory_dn = COALESCE($8, directory_dn) WHERE id = $7",
                )
                .bind(&u.display_name)
                .bind(&u.email)
                .bind(&u.phone)
                .bind(&u.unit_id)
                .bind(&u.title)
                .bind(now)
                .bind(&id)
                .bind(&u.directory_dn)
                .execute(&mut *tx)
                .await?;
                if returned {
                    sqlx::query(
                        "UPDATE users SET status = 'active', directory_left_at = NULL WHERE id = $1",
                    )
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                }
                if let Some(new_roles) = u.roles.as_ref().filter(|r| **r != roles) {
                    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
                        .bind(&id)
                        .execute(&mut *tx)
                        .await?;
                    insert_roles(&mut tx, &id, new_roles).await?;
                }
            }
            out.push((ImportOutcome::Updated, id));
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        Ok(out)
    }
}

async fn insert_roles(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    roles: &[String],
) -> Result<()> {
    for role in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(user_id)
            .bind(role)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}
