//! Organisation units: a tree from the city down to communes.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, is_unique_violation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub level: String,
    pub created_at: i64,
}

fn from_row(row: &AnyRow) -> Result<Unit> {
    Ok(Unit {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        level: row.try_get("level")?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_unit(&self, unit: &Unit) -> Result<()> {
        sqlx::query(
            "INSERT INTO org_units (id, name, parent_id, level, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&unit.id)
        .bind(&unit.name)
        .bind(&unit.parent_id)
        .bind(&unit.level)
        .bind(unit.created_at)
        .execute(self.pool())
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(format!("unit {}", unit.id))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn unit(&self, id: &str) -> Result<Option<Unit>> {
        sqlx::query("SELECT id, name, parent_id, level, created_at FROM org_units WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub async fn list_units(&self) -> Result<Vec<Unit>> {
        sqlx::query(
            "SELECT id, name, parent_id, level, created_at FROM org_units ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }
}

impl Store {
    /// Returns false when no such unit exists.
    pub async fn rename_unit(&self, id: &str, name: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE org_units SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
