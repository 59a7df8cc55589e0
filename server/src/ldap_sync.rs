//! The LDAP side of the directory synchronisation (`tessera_core::directory_sync`): connects
//! over LDAPS or StartTLS with the bind account, reads the people under the base DN a page at
//! a time (Active Directory answers at most 1,000 entries per search otherwise), and runs one
//! sync at a time across every replica under the database lease. Also checks the passwords of
//! people who came from the directory by binding as them.

use std::time::Duration;

use anyhow::{Context, bail};
use ldap3::adapters::{EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, ldap_escape};
use tessera_core::Provider;
use tessera_core::directory_sync::{
    self, DirectoryEntry, EntryReport, PasswordDirectory, SyncSummary,
};
use tessera_core::outbound::BoxFuture;

use crate::ldap_settings::LdapSettings;

/// The name of the directory's lease row.
pub const DIRECTORY: &str = "ldap";
/// How long one sync may hold the lease (a replica that dies lets it run out).
const LEASE_SECS: i64 = 1800;
/// Connecting and each operation.
const TIMEOUT: Duration = Duration::from_secs(30);
const PAGE: i32 = 500;
/// LDAP result code 49 (RFC 4511 §4.1.9).
const INVALID_CREDENTIALS: u32 = 49;

/// A connection bound as the service account.
async fn connect(s: &LdapSettings) -> anyhow::Result<Ldap> {
    let settings = LdapConnSettings::new()
        .set_conn_timeout(TIMEOUT)
        .set_starttls(s.starttls)
        .set_config(s.tls.clone());
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &s.url)
        .await
        .with_context(|| format!("cannot connect to the directory {}", s.url))?;
    ldap3::drive!(conn);
    ldap.with_timeout(TIMEOUT);
    let bound = ldap
        .simple_bind(&s.bind_dn, s.bind_password.expose())
        .await
        .with_context(|| format!("binding to {} as {}", s.url, s.bind_dn))?;
    if bound.rc == INVALID_CREDENTIALS {
        bail!(
            "the directory {} refused the bind account {}: wrong DN or password (LDAP result 49, \
             invalidCredentials); nothing was changed",
            s.url,
            s.bind_dn
        );
    }
    bound
        .success()
        .with_context(|| format!("the directory {} refused the bind as {}", s.url, s.bind_dn))?;
    Ok(ldap)
}

fn attributes(s: &LdapSettings) -> Vec<String> {
    let a = &s.attrs;
    vec![
        a.username.clone(),
        a.name.clone(),
        a.mail.clone(),
        a.phone.clone(),
        a.title.clone(),
    ]
}

/// The first value of `attr` (attribute names are case-insensitive).
fn first(e: &SearchEntry, attr: &str) -> Option<String> {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first().cloned())
}

/// Every person under the base DN; `progress` hears the count now and then.
pub async fn read_entries(
    s: &LdapSettings,
    progress: &mut (dyn FnMut(usize) + Send),
) -> anyhow::Result<Vec<DirectoryEntry>> {
    let mut ldap = connect(s).await?;
    let mut stream = ldap
        .streaming_search_with(
            vec![
                Box::new(EntriesOnly::new()) as Box<dyn ldap3::adapters::Adapter<_, _>>,
                Box::new(PagedResults::new(PAGE)),
            ],
            &s.base_dn,
            Scope::Subtree,
            &s.user_filter,
            attributes(s),
        )
        .await
        .with_context(|| format!("searching {} for {}", s.base_dn, s.user_filter))?;
    let mut out = Vec::new();
    while let Some(raw) = stream.next().await.context("reading the directory")? {
        let e = SearchEntry::construct(raw);
        let ous = crate::ldap_dn::ous_below(&e.dn, &s.base_dn).map_err(|e| anyhow::anyhow!(e))?;
        out.push(DirectoryEntry {
            username: first(&e, &s.attrs.username).unwrap_or_default(),
            display_name: first(&e, &s.attrs.name).unwrap_or_default(),
            email: first(&e, &s.attrs.mail),
            phone: first(&e, &s.attrs.phone),
            title: first(&e, &s.attrs.title),
            ous,
            dn: e.dn,
        });
        if out.len().is_multiple_of(PAGE as usize) {
            progress(out.len());
        }
    }
    stream
        .finish()
        .await
        .success()
        .with_context(|| format!("searching {} for {}", s.base_dn, s.user_filter))?;
    let _ = ldap.unbind().await;
    progress(out.len());
    Ok(out)
}

/// Why a sync did not run.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("another sync is running ({owner}, for up to {secs} s more)")]
    Busy { owner: String, secs: i64 },
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

/// Callbacks of a run, for the command line's report.
pub struct Progress<'a> {
    pub read: &'a mut (dyn FnMut(usize) + Send),
    pub written: &'a mut (dyn FnMut(usize) + Send),
    pub entry: &'a mut (dyn FnMut(&EntryReport) + Send),
}

/// One sync under the lease: read the directory, then apply it. `scheduled`: only when the
/// schedule says it is due (`Ok(None)` otherwise), and the next one set `interval` later.
pub async fn run(
    p: &Provider,
    s: &LdapSettings,
    actor: &str,
    owner: &str,
    scheduled: Option<i64>,
    progress: Progress<'_>,
) -> Result<Option<SyncSummary>, SyncError> {
    let now = crate::clock::now();
    let taken = tessera_core::directory_sync::take_lease(
        p,
        DIRECTORY,
        owner,
        now,
        now + LEASE_SECS,
        scheduled.is_some(),
    )
    .await
    .map_err(|e| SyncError::Failed(e.into()))?;
    if !taken {
        if scheduled.is_some() {
            return Ok(None);
        }
        let holder = tessera_core::directory_sync::lease_holder(p, DIRECTORY, now)
            .await
            .map_err(|e| SyncError::Failed(e.into()))?;
        let (owner, until) = holder.map_or(("another process".to_owned(), now), |h| {
            (h.owner, h.lease_until)
        });
        return Err(SyncError::Busy {
            owner,
            secs: (until - now).max(0),
        });
    }
    let result = async {
        let root_unit = s.root_unit.as_deref().context(
            "TESSERA_LDAP_ROOT_UNIT (ldap_root_unit) is not set: give the id of the unit under \
             which the directory's OUs become units",
        )?;
        let entries = read_entries(s, progress.read).await?;
        let summary = directory_sync::apply(
            p,
            actor,
            &entries,
            root_unit,
            crate::clock::now(),
            progress.entry,
            progress.written,
        )
        .await?;
        anyhow::Ok(summary)
    }
    .await;
    let done = crate::clock::now();
    let next = scheduled.map(|interval| done + interval);
    let record = match &result {
        Ok(summary) => serde_json::to_string(summary).unwrap_or_default(),
        Err(e) => serde_json::json!({ "error": format!("{e:#}") }).to_string(),
    };
    if let Err(e) = &result {
        tessera_core::directory_sync::record_failure(p, actor, &format!("{e:#}"), done).await;
    }
    tessera_core::directory_sync::release_lease(p, DIRECTORY, owner, done, next, &record)
        .await
        .map_err(|e| SyncError::Failed(e.into()))?;
    result.map(Some).map_err(SyncError::Failed)
}

/// `tessera serve`'s schedule: every replica looks each minute (or each interval, when
/// shorter); the lease lets one of them run each sync.
pub fn spawn_schedule(p: Provider, s: LdapSettings, interval: i64, owner: String) {
    tokio::spawn(async move {
        let look = Duration::from_secs(interval.clamp(1, 60) as u64);
        let mut tick = tokio::time::interval(look);
        loop {
            tick.tick().await;
            let progress = Progress {
                read: &mut |_| {},
                written: &mut |_| {},
                entry: &mut |_| {},
            };
            match run(&p, &s, "system:ldap-sync", &owner, Some(interval), progress).await {
                Ok(Some(summary)) => tracing::info!(
                    created = summary.created,
                    updated = summary.updated,
                    unchanged = summary.unchanged,
                    refused = summary.refused,
                    disabled = summary.disabled,
                    "directory synchronised"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "directory synchronisation failed"),
            }
        }
    });
}

/// Checks passwords by binding as the person: the service account finds the person's entry
/// with an escaped filter (RFC 4515 §3), then the person's DN binds with the password given.
#[derive(Debug)]
pub struct LdapPasswords(pub LdapSettings);

impl LdapPasswords {
    async fn check(&self, username: &str, password: &str) -> anyhow::Result<bool> {
        // Never an unauthenticated bind (RFC 4513 §5.1.2): the core refuses empty passwords
        // too; this is the last line.
        if password.is_empty() {
            return Ok(false);
        }
        let s = &self.0;
        let mut ldap = connect(s).await?;
        let filter = format!(
            "(&{}({}={}))",
            s.user_filter,
            s.attrs.username,
            ldap_escape(username)
        );
        let (found, _) = ldap
            .search(&s.base_dn, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .context("looking the person up")?
            .success()
            .context("looking the person up")?;
        // Nobody, or an ambiguous name: refused, as a wrong password.
        let [entry] = found.as_slice() else {
            let _ = ldap.unbind().await;
            return Ok(false);
        };
        let dn = SearchEntry::construct(entry.clone()).dn;
        let bound = ldap
            .simple_bind(&dn, password)
            .await
            .context("binding as the person")?;
        let _ = ldap.unbind().await;
        match bound.rc {
            0 => Ok(true),
            INVALID_CREDENTIALS => Ok(false),
            rc => bail!(
                "the directory answered the bind with result {rc} ({})",
                bound.text
            ),
        }
    }
}

impl PasswordDirectory for LdapPasswords {
    fn check_password<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
    ) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            self.check(username, password)
                .await
                .map_err(|e| format!("{e:#}"))
        })
    }
}
