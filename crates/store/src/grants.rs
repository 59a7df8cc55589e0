//! Administrative role grants: a role held over an organisation unit and the units below it.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, is_unique_violation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleGrant {
    pub user_id: String,
    /// `admin`, `cert_admin` or `auditor` (checked by the core, stored as text).
    pub role: String,
    pub unit_id: String,
    /// User id of the administrator who granted it, or `cli:<os user>`.
    pub granted_by: String,
    pub granted_at: i64,
}

fn from_row(row: &AnyRow) -> Result<RoleGrant> {
    Ok(RoleGrant {
        user_id: row.try_get("user_id")?,
        role: row.try_get("role")?,
        unit_id: row.try_get("unit_id")?,
        granted_by: row.try_get("granted_by")?,
        granted_at: row.try_get("granted_at")?,
    })
}

impl Store {
    /// Adds a grant; an identical grant already present is a conflict.
    pub async fn insert_role_grant(&self, g: &RoleGrant) -> Result<()> {
        sqlx::query(
            "INSERT INTO role_grants (user_id, role, unit_id, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&g.user_id)
        .bind(&g.role)
        .bind(&g.unit_id)
        .bind(&g.granted_by)
        .bind(g.granted_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("grant {} on unit {}", g.role, g.unit_id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Returns false when there was no such grant.
    pub async fn delete_role_grant(
        &self,
        user_id: &str,
        role: &str,
        unit_id: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "DELETE FROM role_grants WHERE user_id = $1 AND role = $2 AND unit_id = $3",
        )
        .bind(user_id)
        .bind(role)
        .bind(unit_id)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn role_grants_of(&self, user_id: &str) -> Result<Vec<RoleGrant>> {
        sqlx::query(
            "SELECT user_id, role, unit_id, granted_by, granted_at FROM role_grants WHERE user_id = $1 ORDER BY role, unit_id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testdb;
    use crate::units::Unit;
    use crate::users::{User, UserStatus};

    #[tokio::test]
    async fn grants_round_trip_and_follow_the_user() {
        let store = testdb::store().await;
        store
            .insert_unit(&Unit {
                id: "city".into(),
                name: "Thành phố".into(),
                parent_id: None,
                level: "city".into(),
                created_at: 1,
            })
            .await
            .unwrap();
        store
            .insert_user(&User {
                id: "u1".into(),
                username: "an.nv".into(),
                display_name: "An".into(),
                email: None,
                phone: None,
                status: UserStatus::Active,
                unit_id: Some("city".into()),
                password_hash: None,
                password_must_change: false,
                roles: vec![],
                created_at: 1,
                updated_at: 1,
            })
            .await
            .unwrap();
        let grant = RoleGrant {
            user_id: "u1".into(),
            role: "admin".into(),
            unit_id: "city".into(),
            granted_by: "cli:root".into(),
            granted_at: 2,
        };
        store.insert_role_grant(&grant).await.unwrap();
        let err = store.insert_role_grant(&grant).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
        assert_eq!(store.role_grants_of("u1").await.unwrap(), vec![grant]);
        assert!(
            store
                .delete_role_grant("u1", "admin", "city")
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_role_grant("u1", "admin", "city")
                .await
                .unwrap()
        );
        assert!(store.role_grants_of("u1").await.unwrap().is_empty());
    }
}
