//! Online snapshots of the SQLite database, for `tessera backup`.

use std::path::Path;

use crate::{Backend, Result, Store, StoreError};

impl Store {
    /// Writes a consistent copy of the SQLite database to `path` (which must not exist) with
    /// `VACUUM INTO`: it reads in one transaction, so writers carry on and the copy is the
    /// database as of one instant. PostgreSQL is backed up with `pg_dump`.
    pub async fn snapshot_into(&self, path: &Path) -> Result<()> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Corrupt(
                "online snapshots are for SQLite; back PostgreSQL up with pg_dump".into(),
            ));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.display().to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
