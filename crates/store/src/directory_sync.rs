//! LDAP/AD synchronisation: the people who came from the directory, and the lease row that lets
//! one process at a time run a directory's sync (a scheduled one in any replica of `tessera
//! serve`, or `tessera ldap sync`). People themselves are written by [`Store::import_users`].

use sqlx::Row;

use crate::{Result, Store};

/// A person who came from the directory and has not left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryPerson {
    pub id: String,
    pub username: String,
    pub directory_dn: String,
}

/// Who holds a directory's lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncHolder {
    pub owner: String,
    pub lease_until: i64,
}

impl Store {
    /// The active people who came from the directory (those a sync may find gone).
    pub async fn active_directory_people(&self) -> Result<Vec<DirectoryPerson>> {
        let rows = sqlx::query(
            "SELECT id, username, directory_dn FROM users \
             WHERE directory_dn IS NOT NULL AND directory_left_at IS NULL AND status = 'active' \
             ORDER BY username",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DirectoryPerson {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    directory_dn: r.try_get("directory_dn")?,
                })
            })
            .collect()
    }

    /// Records that the sync disabled `user_id` because they left the directory (so that
    /// they are enabled again if they come back).
    pub async fn mark_directory_left(&self, user_id: &str, now: i64) -> Result<()> {
        sqlx::query("UPDATE users SET directory_left_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The DN of the entry `username` came from, if they came from the directory and have not
    /// left it.
    pub async fn directory_dn_of(&self, user_id: &str) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT directory_dn FROM users WHERE id = $1 AND directory_left_at IS NULL",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(match row {
            Some(r) => r.try_get("directory_dn")?,
            None => None,
        })
    }

    /// Takes the lease of directory `name` for `owner` until `lease_until`: `true` when taken.
    /// Refused while another holder's lease runs; with `due_only` (the schedule), also until
    /// the next sync is due. A holder that died simply lets its lease run out.
    pub async fn take_directory_sync(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
        due_only: bool,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO directory_sync (name, owner, lease_until, next_at) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until \
             WHERE directory_sync.lease_until < $4 AND (directory_sync.next_at <= $4 OR $5 = 0)",
        )
        .bind(name)
        .bind(owner)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(due_only))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Who holds the lease of directory `name` at `now`, if anyone.
    pub async fn directory_sync_holder(&self, name: &str, now: i64) -> Result<Option<SyncHolder>> {
        let row = sqlx::query(
            "SELECT owner, lease_until FROM directory_sync \
             WHERE name = $1 AND owner IS NOT NULL AND lease_until >= $2",
        )
        .bind(name)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(SyncHolder {
                owner: r.try_get("owner")?,
                lease_until: r.try_get("lease_until")?,
            })
        })
        .transpose()
    }

    /// Ends `owner`'s sync of directory `name`: gives the lease up, records the outcome and,
    /// when given, when the next scheduled sync is due.
    pub async fn finish_directory_sync(
        &self,
        name: &str,
        owner: &str,
        now: i64,
        next_at: Option<i64>,
        summary: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE directory_sync SET owner = NULL, lease_until = 0, next_at = COALESCE($1, next_at), \
             last_finished_at = $2, last_summary = $3 WHERE name = $4 AND owner = $5",
        )
        .bind(next_at)
        .bind(now)
        .bind(summary)
        .bind(name)
        .bind(owner)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[tokio::test]
    async fn one_holder_at_a_time_and_the_schedule_is_kept() {
        let store = crate::testdb::store().await;
        // First come: the row is made and taken.
        assert!(
            store
                .take_directory_sync("ldap", "a", 100, 200, true)
                .await
                .unwrap()
        );
        // Another replica, scheduled or by hand, waits while the lease runs.
        assert!(
            !store
                .take_directory_sync("ldap", "b", 150, 250, true)
                .await
                .unwrap()
        );
        assert!(
            !store
                .take_directory_sync("ldap", "b", 150, 250, false)
                .await
                .unwrap()
        );
        let holder = store
            .directory_sync_holder("ldap", 150)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((holder.owner.as_str(), holder.lease_until), ("a", 200));
        // Done: the next scheduled sync is at 400.
        store
            .finish_directory_sync("ldap", "a", 160, Some(400), "{}")
            .await
            .unwrap();
        assert_eq!(
            store.directory_sync_holder("ldap", 170).await.unwrap(),
            None
        );
        assert!(
            !store
                .take_directory_sync("ldap", "b", 170, 270, true)
                .await
                .unwrap()
        );
        // By hand, a sync may run before the schedule's time.
        assert!(
            store
                .take_directory_sync("ldap", "c", 170, 270, false)
                .await
                .unwrap()
        );
        store
            .finish_directory_sync("ldap", "c", 180, None, "{}")
            .await
            .unwrap();
        assert!(
            store
                .take_directory_sync("ldap", "b", 400, 500, true)
                .await
                .unwrap()
        );
        // A holder that died lets its lease run out.
        assert!(
            store
                .take_directory_sync("ldap", "d", 501, 600, false)
                .await
                .unwrap()
        );
        // A late finish by a former holder changes nothing.
        store
            .finish_directory_sync("ldap", "b", 502, Some(9_999), "{}")
            .await
            .unwrap();
        let holder = store
            .directory_sync_holder("ldap", 502)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(holder.owner, "d");
    }
}
