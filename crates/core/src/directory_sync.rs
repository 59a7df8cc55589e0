//! LDAP/AD synchronisation (`tessera ldap sync`, and on a schedule in `tessera serve`): the
//! entries the server read from the directory become people, written with the CSV import's
//! checks, unit paths and upsert (`user_import`), matched by username so that a re-run
//! changes only what changed. Organisational units become units under a configured root unit;
//! a person moved between OUs moves unit. People who came from the directory and are no longer
//! found are disabled (never deleted) through the administrator's disable path, which ends
//! their sessions and logs them out of their applications over the back channel.
//!
//! The core knows nothing of LDAP: the server reads the directory and, for password logins,
//! implements [`PasswordDirectory`].

use std::collections::HashMap;

use serde_json::json;
use tessera_store::user_import::{ImportOutcome, ImportedUser};

use crate::admin::{self, Acting};
use crate::audit::Event;
use crate::error::AdminError;
use crate::outbound::BoxFuture;
use crate::secrets::random_id;
use crate::user_import::{ImportOptions, Units, check_person, unit_for};
use crate::{CoreError, Provider};

/// People per transaction.
const BATCH: usize = 1000;

/// One person as the directory describes them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub dn: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    /// Names of the organisational units the entry sits in, from below the base DN down.
    pub ous: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryResult {
    Created,
    Updated,
    Unchanged,
    Refused(String),
    /// No longer in the directory: disabled, sessions ended.
    Disabled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryReport {
    pub dn: String,
    pub username: String,
    pub result: EntryResult,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncSummary {
    pub entries: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
    pub disabled: usize,
    pub units_created: Vec<String>,
}

/// Checks passwords of people who came from the directory by binding to it as them.
pub trait PasswordDirectory: Send + Sync + std::fmt::Debug {
    /// `Ok(true)`: the directory accepted `password` for `username`; `Ok(false)`: it refused
    /// it (or does not know the person); `Err`: the directory could not be asked.
    fn check_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>>;
}

/// Applies what the directory holds: creates and updates people (and their units under
/// `root_unit`), and disables those who left. `report` hears of every entry and every person
/// disabled; `progress` of the people written after each batch.
pub async fn apply(
    p: &Provider,
    actor: &str,
    entries: &[DirectoryEntry],
    root_unit: &str,
    now: i64,
    report: &mut (dyn FnMut(&EntryReport) + Send),
    progress: &mut (dyn FnMut(usize) + Send),
) -> Result<SyncSummary, AdminError> {
    let mut units = Units::load(p).await?;
    let Some(root_path) = units.path_of(root_unit).map(str::to_owned) else {
        return Err(AdminError::NotFound(format!(
            "unit {root_unit} (the root unit of the directory's OUs)"
        )));
    };
    let known = p.store.active_directory_people().await?;
    // An empty answer is far likelier a wrong base DN or filter than everyone leaving.
    if entries.is_empty() && !known.is_empty() {
        return Err(AdminError::Invalid(format!(
            "the directory returned no people, but {} came from it: check the base DN and the \
             user filter; nobody was disabled",
            known.len()
        )));
    }
    let opts = ImportOptions {
        default_unit: None,
        dry_run: false,
        create_units: true,
    };
    let mut summary = SyncSummary {
        entries: entries.len(),
        ..SyncSummary::default()
    };
    // Usernames seen, with the DN of their first entry (refused entries count as seen: a
    // person whose entry has a bad field has not left).
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut batch: Vec<(String, ImportedUser)> = Vec::with_capacity(BATCH);
    let mut done = 0;
    for e in entries {
        // Repeats are refused before anything (a unit) is made for them.
        let username = crate::username::normalise_username(&e.username);
        let checked = match seen.get(&username) {
            Some(first) if !username.is_empty() => {
                Err((username, format!("username repeats the entry {first}")))
            }
            _ => {
                seen.insert(username, e.dn.clone());
                check_entry(
                    p,
                    actor,
                    e,
                    &root_path,
                    &opts,
                    &mut units,
                    &mut summary,
                    now,
                )
                .await?
            }
        };
        match checked {
            Ok(u) => batch.push((e.dn.clone(), u)),
            Err((username, why)) => {
                summary.refused += 1;
                report(&EntryReport {
                    dn: e.dn.clone(),
                    username,
                    result: EntryResult::Refused(why),
                });
            }
        }
        if batch.len() >= BATCH {
            done += write(p, &mut batch, now, &mut summary, report).await?;
            progress(done);
        }
    }
    done += write(p, &mut batch, now, &mut summary, report).await?;
    progress(done);

    let by = Acting::cli(actor);
    for gone in known.iter().filter(|k| !seen.contains_key(&k.username)) {
        let Some(user) = p.store.user_by_username(&gone.username).await? else {
            continue;
        };
        admin::disable_user_by(p, &by, &user, now).await?;
        p.store.mark_directory_left(&user.id, now).await?;
        summary.disabled += 1;
        report(&EntryReport {
            dn: gone.directory_dn.clone(),
            username: gone.username.clone(),
            result: EntryResult::Disabled,
        });
    }
    by.audit(
        p,
        now,
        Event::DirectorySynced,
        json!({
            "entries": summary.entries, "created": summary.created, "updated": summary.updated,
            "unchanged": summary.unchanged, "refused": summary.refused,
            "disabled": summary.disabled, "units_created": summary.units_created,
        }),
    )
    .await?;
    Ok(summary)
}

/// One entry checked: the person to write, or (username, reason).
#[allow(clippy::too_many_arguments)] // the sync's state, threaded through one entry
async fn check_entry(
    p: &Provider,
    actor: &str,
    e: &DirectoryEntry,
    root_path: &str,
    opts: &ImportOptions,
    units: &mut Units,
    summary: &mut SyncSummary,
    now: i64,
) -> Result<Result<ImportedUser, (String, String)>, AdminError> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let (email, phone, title) = (
        non_empty(&e.email),
        non_empty(&e.phone),
        non_empty(&e.title),
    );
    let person = match check_person(
        &e.username,
        &e.display_name,
        email.as_deref(),
        phone.as_deref(),
        title.as_deref(),
    ) {
        Ok(person) => person,
        Err(refused) => return Ok(Err(refused)),
    };
    let mut path = root_path.to_owned();
    for ou in &e.ous {
        let ou = ou.trim();
        // A `/` would split the OU into two units of the path.
        if ou.is_empty() || ou.contains('/') {
            return Ok(Err((
                person.username,
                format!("organisational unit {ou:?} cannot be a unit name (empty, or has '/')"),
            )));
        }
        path.push('/');
        path.push_str(ou);
    }
    let unit_id = unit_for(
        p,
        actor,
        &path,
        opts,
        units,
        &mut summary.units_created,
        now,
    )
    .await?
    .ok_or_else(|| AdminError::Invalid(format!("unit {path:?} could not be created")))?;
    Ok(Ok(ImportedUser {
        id: random_id()?,
        username: person.username,
        display_name: person.display_name,
        email: person.email,
        phone: person.phone,
        unit_id: Some(unit_id),
        roles: None,
        title: person.title,
        directory_dn: Some(e.dn.clone()),
    }))
}

async fn write(
    p: &Provider,
    batch: &mut Vec<(String, ImportedUser)>,
    now: i64,
    summary: &mut SyncSummary,
    report: &mut (dyn FnMut(&EntryReport) + Send),
) -> Result<usize, AdminError> {
    let users: Vec<ImportedUser> = batch.iter().map(|(_, u)| u.clone()).collect();
    let outcomes = p.store.import_users(&users, false, now).await?;
    for ((dn, u), (outcome, _)) in batch.iter().zip(outcomes) {
        let result = match outcome {
            ImportOutcome::Created => {
                summary.created += 1;
                EntryResult::Created
            }
            ImportOutcome::Updated => {
                summary.updated += 1;
                EntryResult::Updated
            }
            ImportOutcome::Unchanged => {
                summary.unchanged += 1;
                EntryResult::Unchanged
            }
        };
        report(&EntryReport {
            dn: dn.clone(),
            username: u.username.clone(),
            result,
        });
    }
    let n = batch.len();
    batch.clear();
    Ok(n)
}

/// Takes the lease of directory `name` (see `Store::take_directory_sync`).
pub async fn take_lease(
    p: &Provider,
    name: &str,
    owner: &str,
    now: i64,
    until: i64,
    due_only: bool,
) -> Result<bool, CoreError> {
    Ok(p.store
        .take_directory_sync(name, owner, now, until, due_only)
        .await?)
}

/// Who holds the lease of directory `name`, if anyone.
pub async fn lease_holder(
    p: &Provider,
    name: &str,
    now: i64,
) -> Result<Option<tessera_store::directory_sync::SyncHolder>, CoreError> {
    Ok(p.store.directory_sync_holder(name, now).await?)
}

/// Gives the lease up, recording the outcome and when the next scheduled sync is due.
pub async fn release_lease(
    p: &Provider,
    name: &str,
    owner: &str,
    now: i64,
    next_at: Option<i64>,
    summary: &str,
) -> Result<(), CoreError> {
    Ok(p.store
        .finish_directory_sync(name, owner, now, next_at, summary)
        .await?)
}

/// Audits a sync that failed (the directory unreachable, the bind refused, …).
pub async fn record_failure(p: &Provider, actor: &str, error: &str, now: i64) {
    let detail = json!({ "error": error });
    if let Err(e) = Acting::cli(actor)
        .audit(p, now, Event::DirectorySyncFailed, detail)
        .await
    {
        tracing::warn!(error = %e, "cannot audit the failed directory sync");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::testkit::{self, ACTOR, T0};
    use tessera_store::users::UserStatus;

    fn entry(uid: &str, ous: &[&str]) -> DirectoryEntry {
        DirectoryEntry {
            dn: format!("uid={uid},dc=vn"),
            username: uid.to_owned(),
            display_name: format!("Nguyễn Văn {uid}"),
            ous: ous.iter().map(|s| (*s).to_owned()).collect(),
            ..DirectoryEntry::default()
        }
    }

    async fn sync(
        p: &Provider,
        root: &str,
        entries: &[DirectoryEntry],
    ) -> Result<(SyncSummary, Vec<EntryReport>), AdminError> {
        let mut reports = Vec::new();
        let summary = apply(
            p,
            ACTOR,
            entries,
            root,
            T0,
            &mut |r| reports.push(r.clone()),
            &mut |_| {},
        )
        .await?;
        Ok((summary, reports))
    }

    #[tokio::test]
    async fn bad_entries_are_refused_and_an_empty_answer_disables_nobody() {
        let p = testkit::provider(T0).await;
        let root = testkit::add_unit(&p, "Thành phố Hải Phòng", T0).await;
        let entries = [
            entry("an.nv", &["Sở Nội vụ"]),
            entry("AN.NV", &["Sở Tư pháp"]),
            entry("binh.tt", &["a/b"]),
            DirectoryEntry {
                display_name: String::new(),
                ..entry("cuong.lv", &[])
            },
        ];
        let (summary, reports) = sync(&p, &root.id, &entries).await.unwrap();
        assert_eq!((summary.created, summary.refused), (1, 3), "{reports:?}");
        let why = |u: &str| {
            reports
                .iter()
                .find_map(|r| match &r.result {
                    EntryResult::Refused(why) if r.username == u => Some(why.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        assert!(
            why("an.nv").contains("repeats the entry uid=an.nv"),
            "{reports:?}"
        );
        assert!(
            why("binh.tt").contains("cannot be a unit name"),
            "{reports:?}"
        );
        assert!(why("cuong.lv").contains("name"), "{reports:?}");
        assert_eq!(summary.units_created, ["Thành phố Hải Phòng/Sở Nội vụ"]);

        // Nothing found while people came from the directory: refused, nobody disabled.
        let err = sync(&p, &root.id, &[]).await.unwrap_err();
        assert!(err.to_string().contains("returned no people"), "{err}");
        let an = p.store.user_by_username("an.nv").await.unwrap().unwrap();
        assert_eq!(an.status, UserStatus::Active);
        // A refused entry still counts as present: its person is not disabled.
        let (summary, _) = sync(&p, &root.id, &[entry("an.nv", &["a/b"])])
            .await
            .unwrap();
        assert_eq!((summary.refused, summary.disabled), (1, 0));
    }
}
