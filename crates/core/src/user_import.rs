//! `tessera user import`: people from a spreadsheet. UTF-8 CSV with a header naming the
//! columns (any order, any case): `username` and `name` (or `display_name`) required; `email`,
//! `phone`, `unit` (a path of unit names from the top, `Thành phố Hải Phòng/Sở Nội vụ`),
//! `roles` (separated by `;` or `,`) and `title` optional.
//!
//! Each row is checked with the administration rules (`admin.rs`) and refused whole, with its
//! line and reason, when anything is wrong; good rows are written a batch per transaction,
//! matched by username, so a re-run updates and creates nothing twice. Unknown units are
//! refused unless `create_units`. New people get no password: they cannot sign in until an
//! administrator gives them a temporary one (Argon2 per row would make large imports slow).

use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde_json::json;
use tessera_store::user_import::{ImportOutcome, ImportedUser};

use crate::admin::{self, Acting};
use crate::audit::Event;
use crate::error::AdminError;
use crate::secrets::random_id;
use crate::{CoreError, Provider};

/// Rows per transaction.
const BATCH: usize = 1000;

#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// The unit of rows without a `unit`.
    pub default_unit: Option<String>,
    pub dry_run: bool,
    pub create_units: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowResult {
    Created,
    Updated,
    Unchanged,
    Refused(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowReport {
    /// Line of the file (1-based; the header is line 1).
    pub line: u64,
    pub username: String,
    pub result: RowResult,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub refused: usize,
    /// Unit paths created (or, in a dry run, that would be).
    pub units_created: Vec<String>,
}

/// Column positions from the header.
struct Columns {
    /// Fields in the header: every row has as many.
    width: usize,
    username: usize,
    name: usize,
    email: Option<usize>,
    phone: Option<usize>,
    unit: Option<usize>,
    roles: Option<usize>,
    title: Option<usize>,
}

fn columns(header: &csv::StringRecord) -> Result<Columns, AdminError> {
    let find = |names: &[&str]| {
        header.iter().position(|h| {
            let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
            names.contains(&h.as_str())
        })
    };
    let known = [
        "username",
        "name",
        "display_name",
        "email",
        "phone",
        "unit",
        "roles",
        "title",
    ];
    if let Some(bad) = header.iter().find(|h| {
        !known.contains(
            &h.trim()
                .trim_start_matches('\u{feff}')
                .to_lowercase()
                .as_str(),
        )
    }) {
        return Err(AdminError::Invalid(format!(
            "line 1: unknown column {bad:?} (columns: {})",
            known.join(", ")
        )));
    }
    let required = |names: &[&str]| {
        find(names).ok_or_else(|| {
            AdminError::Invalid(format!("line 1: the header has no {} column", names[0]))
        })
    };
    Ok(Columns {
        width: header.len(),
        username: required(&["username"])?,
        name: required(&["name", "display_name"])?,
        email: find(&["email"]),
        phone: find(&["phone"]),
        unit: find(&["unit"]),
        roles: find(&["roles"]),
        title: find(&["title"]),
    })
}

/// Unit ids by path of names from the top (`A/B/C`).
pub(crate) struct Units {
    by_path: HashMap<String, String>,
    ids: HashSet<String>,
}

impl Units {
    pub(crate) async fn load(p: &Provider) -> Result<Units, CoreError> {
        let all = admin::list_units(p).await?;
        let by_id: HashMap<&str, &tessera_store::units::Unit> =
            all.iter().map(|u| (u.id.as_str(), u)).collect();
        let mut by_path = HashMap::new();
        for u in &all {
            let mut names = vec![u.name.as_str()];
            let mut cursor = u.parent_id.as_deref();
            // Bounded: a unit tree is shallow; a cycle must not hang the import.
            while let Some(parent) = cursor.and_then(|id| by_id.get(id)) {
                names.push(parent.name.as_str());
                cursor = parent.parent_id.as_deref();
                if names.len() > 32 {
                    break;
                }
            }
            names.reverse();
            by_path.insert(names.join("/"), u.id.clone());
        }
        let ids = all.into_iter().map(|u| u.id).collect();
        Ok(Units { by_path, ids })
    }

    /// The path of names of unit `id`, if it exists.
    pub(crate) fn path_of(&self, id: &str) -> Option<&str> {
        self.by_path
            .iter()
            .find(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.as_str())
    }
}

/// A person's fields checked with the administration rules (the username normalised).
pub(crate) struct Person {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
}

/// Checks a person's fields; `Err((username, reason))` names the first bad one.
pub(crate) fn check_person(
    username: &str,
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    title: Option<&str>,
) -> Result<Person, (String, String)> {
    let username = crate::username::normalise_username(username);
    let refuse = |e: AdminError| (username.clone(), e.to_string());
    admin::check_identifier("username", &username).map_err(refuse)?;
    let display_name = admin::check_text("name", name).map_err(refuse)?;
    if let Some(e) = email {
        admin::check_email(e).map_err(refuse)?;
    }
    if let Some(ph) = phone {
        admin::check_phone(ph).map_err(refuse)?;
    }
    let title = title
        .map(|t| admin::check_text("title", t))
        .transpose()
        .map_err(refuse)?;
    Ok(Person {
        username: username.clone(),
        display_name,
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        title,
    })
}

pub(crate) fn normal_path(raw: &str) -> String {
    raw.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// Imports the CSV from `input`; `report` hears of every row (in file order) and `progress`
/// of the rows done after each batch.
pub async fn import(
    p: &Provider,
    actor: &str,
    input: impl Read,
    opts: &ImportOptions,
    now: i64,
    report: &mut dyn FnMut(&RowReport),
    progress: &mut dyn FnMut(usize),
) -> Result<Summary, AdminError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader
        .headers()
        .map_err(|e| AdminError::Invalid(format!("line 1: {e}")))?
        .clone();
    let cols = columns(&header)?;
    if let Some(unit) = &opts.default_unit
        && p.store.unit(unit).await?.is_none()
    {
        return Err(AdminError::NotFound(format!("unit {unit}")));
    }
    let mut units = Units::load(p).await?;
    let mut summary = Summary::default();
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut batch: Vec<(u64, ImportedUser)> = Vec::with_capacity(BATCH);
    let mut done = 0;
    for record in reader.records() {
        let (line, row) = match record {
            Ok(r) => (r.position().map_or(0, |pos| pos.line()), Ok(r)),
            Err(e) => (e.position().map_or(0, |pos| pos.line()), Err(e.to_string())),
        };
        let checked = match row {
            Ok(r) => check_row(p, actor, &cols, &r, opts, &mut units, &mut summary, now).await?,
            Err(e) => Err((
                String::new(),
                format!("not a CSV row (UTF-8 expected): {e}"),
            )),
        };
        let checked = checked.and_then(|u| match seen.insert(u.username.clone(), line) {
            Some(first) => Err((u.username.clone(), format!("username repeats line {first}"))),
            None => Ok(u),
        });
        match checked {
            Ok(u) => batch.push((line, u)),
            Err((username, why)) => {
                summary.refused += 1;
                report(&RowReport {
                    line,
                    username,
                    result: RowResult::Refused(why),
                });
            }
        }
        if batch.len() >= BATCH {
            done += write(p, &mut batch, opts.dry_run, now, &mut summary, report).await?;
            progress(done);
        }
    }
    done += write(p, &mut batch, opts.dry_run, now, &mut summary, report).await?;
    progress(done);
    if !opts.dry_run {
        Acting::cli(actor)
            .audit(
                p,
                now,
                Event::UserImported,
                json!({
                    "created": summary.created, "updated": summary.updated,
                    "unchanged": summary.unchanged, "refused": summary.refused,
                    "units_created": summary.units_created,
                }),
            )
            .await?;
    }
    Ok(summary)
}

async fn write(
    p: &Provider,
    batch: &mut Vec<(u64, ImportedUser)>,
    dry_run: bool,
    now: i64,
    summary: &mut Summary,
    report: &mut dyn FnMut(&RowReport),
) -> Result<usize, AdminError> {
    let users: Vec<ImportedUser> = batch.iter().map(|(_, u)| u.clone()).collect();
    let outcomes = p.store.import_users(&users, dry_run, now).await?;
    for ((line, u), (outcome, _)) in batch.iter().zip(outcomes) {
        let result = match outcome {
            ImportOutcome::Created => {
                summary.created += 1;
                RowResult::Created
            }
            ImportOutcome::Updated => {
                summary.updated += 1;
                RowResult::Updated
            }
            ImportOutcome::Unchanged => {
                summary.unchanged += 1;
                RowResult::Unchanged
            }
        };
        report(&RowReport {
            line: *line,
            username: u.username.clone(),
            result,
        });
    }
    let n = batch.len();
    batch.clear();
    Ok(n)
}

/// One row checked with the administration rules: the user to write, or (username, reason).
#[allow(clippy::too_many_arguments)] // the import's state, threaded through one row
async fn check_row(
    p: &Provider,
    actor: &str,
    cols: &Columns,
    r: &csv::StringRecord,
    opts: &ImportOptions,
    units: &mut Units,
    summary: &mut Summary,
    now: i64,
) -> Result<Result<ImportedUser, (String, String)>, AdminError> {
    let field = |i: Option<usize>| i.and_then(|i| r.get(i)).filter(|v| !v.is_empty());
    let username = crate::username::normalise_username(field(Some(cols.username)).unwrap_or(""));
    let refuse = |why: String| Ok(Err((username.clone(), why)));
    // `flexible` reading keeps short and long rows for a clear refusal, not a parse error.
    if r.len() != cols.width {
        return refuse(format!(
            "{} fields where the header has {}",
            r.len(),
            cols.width
        ));
    }
    let person = match check_person(
        &username,
        field(Some(cols.name)).unwrap_or(""),
        field(cols.email),
        field(cols.phone),
        field(cols.title),
    ) {
        Ok(person) => person,
        Err((_, why)) => return refuse(why),
    };
    let mut roles: Vec<String> = field(cols.roles)
        .unwrap_or("")
        .split([';', ','])
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    roles.sort();
    roles.dedup();
    if let Err(e) = admin::check_app_roles(&roles) {
        return refuse(e.to_string());
    }
    let unit_id = match field(cols.unit).map(normal_path) {
        None => opts.default_unit.clone(),
        Some(path) => match unit_for(
            p,
            actor,
            &path,
            opts,
            units,
            &mut summary.units_created,
            now,
        )
        .await?
        {
            Some(id) => Some(id),
            None => {
                return refuse(format!(
                    "unknown unit {path:?} (create it first, or import with --create-units)"
                ));
            }
        },
    };
    Ok(Ok(ImportedUser {
        id: random_id()?,
        username: person.username,
        display_name: person.display_name,
        email: person.email,
        phone: person.phone,
        unit_id,
        roles: Some(roles),
        title: person.title,
        directory_dn: None,
    }))
}

/// The unit at `path`, created (with its missing parents) when allowed; `None` when unknown.
/// A path may also be a unit id.
pub(crate) async fn unit_for(
    p: &Provider,
    actor: &str,
    path: &str,
    opts: &ImportOptions,
    units: &mut Units,
    units_created: &mut Vec<String>,
    now: i64,
) -> Result<Option<String>, AdminError> {
    if let Some(id) = units.by_path.get(path) {
        return Ok(Some(id.clone()));
    }
    if units.ids.contains(path) {
        return Ok(Some(path.to_owned()));
    }
    if !opts.create_units {
        return Ok(None);
    }
    let mut parent: Option<String> = None;
    let mut prefix = String::new();
    for name in path.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(name);
        let id = match units.by_path.get(&prefix) {
            Some(id) => id.clone(),
            None => {
                let id = if opts.dry_run {
                    format!("(new) {prefix}")
                } else {
                    admin::add_unit(p, actor, name, parent.as_deref(), now)
                        .await?
                        .id
                };
                units_created.push(prefix.clone());
                units.by_path.insert(prefix.clone(), id.clone());
                id
            }
        };
        parent = Some(id);
    }
    Ok(parent)
}
