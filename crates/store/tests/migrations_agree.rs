//! The SQLite and PostgreSQL migrations are written twice. This test applies both to real
//! databases and compares what they made, so that a change to one without the other fails:
//! tables, columns (type family, nullability, primary key), indexes (columns, uniqueness)
//! foreign keys (columns, target, `ON DELETE`) and the number of CHECK constraints.
//!
//! Not compared: column defaults and the predicates of partial indexes, whose spelling differs
//! between the engines.
//!
//! PostgreSQL is reached through `TESSERA_TEST_DATABASE_URL`; without it the test is skipped
//! with a message, except in CI (`CI` set), where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyPool, AssertSqlSafe, Row};
use tessera_store::Store;

mod support;

/// Everything compared about one table.
#[derive(Debug, Default, PartialEq)]
struct Table {
    /// column → (type family, NOT NULL)
    columns: BTreeMap<String, (String, bool)>,
    primary_key: Vec<String>,
    /// (columns in order, unique)
    indexes: BTreeSet<(Vec<String>, bool)>,
    foreign_keys: BTreeSet<ForeignKey>,
    /// how many CHECK constraints
    checks: usize,
}

type Schema = BTreeMap<String, Table>;

/// (columns, referenced table, referenced columns, ON DELETE action)
type ForeignKey = (Vec<String>, String, Vec<String>, String);

/// Type names of both engines, reduced to the family the store relies on.
fn family(sql_type: &str) -> String {
    let t = sql_type.to_ascii_lowercase();
    match t.as_str() {
        "integer" | "int" | "bigint" | "smallint" | "int4" | "int8" | "int2" => "integer",
        "text" | "character varying" | "varchar" => "text",
        "blob" | "bytea" => "bytes",
        "real" | "double precision" | "float8" | "float4" => "real",
        "boolean" | "bool" => "boolean",
        _ => return t,
    }
    .to_owned()
}

fn text(row: &sqlx::any::AnyRow, col: &str) -> String {
    row.try_get::<String, _>(col)
        .unwrap_or_else(|e| panic!("column {col}: {e}"))
}

fn int(row: &sqlx::any::AnyRow, col: &str) -> i64 {
    row.try_get::<i64, _>(col)
        .unwrap_or_else(|e| panic!("column {col}: {e}"))
}

async fn sqlite_schema(pool: &AnyPool) -> Schema {
    let names: Vec<(String, String)> = sqlx::query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (text(r, "name"), text(r, "sql")))
    .collect();
    let mut schema = Schema::new();
    for (name, sql) in names {
        let mut table = Table {
            checks: sql.to_ascii_uppercase().matches("CHECK (").count()
                + sql.to_ascii_uppercase().matches("CHECK(").count(),
            ..Table::default()
        };
        let mut pk: Vec<(i64, String)> = Vec::new();
        let cols = sqlx::query(AssertSqlSafe(format!(
            "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info('{name}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for c in &cols {
            let col = text(c, "name");
            let in_pk = int(c, "pk");
            if in_pk > 0 {
                pk.push((in_pk, col.clone()));
            }
            // A primary-key column is NOT NULL in PostgreSQL whatever it says.
            let not_null = int(c, "nn") == 1 || in_pk > 0;
            table
                .columns
                .insert(col, (family(&text(c, "type")), not_null));
        }
        pk.sort();
        table.primary_key = pk.into_iter().map(|(_, c)| c).collect();

        let indexes = sqlx::query(AssertSqlSafe(format!(
            "SELECT name, \"unique\" AS uq, origin FROM pragma_index_list('{name}')"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        for i in &indexes {
            if text(i, "origin") == "pk" {
                continue;
            }
            let idx = text(i, "name");
            let cols = sqlx::query(AssertSqlSafe(format!(
                "SELECT name FROM pragma_index_info('{idx}') ORDER BY seqno"
            )))
            .fetch_all(pool)
            .await
            .unwrap()
            .iter()
            .map(|r| text(r, "name"))
            .collect();
            table.indexes.insert((cols, int(i, "uq") == 1));
        }

        let fks = sqlx::query(AssertSqlSafe(format!(
            "SELECT id, \"table\" AS target, \"from\" AS src, \"to\" AS dst, on_delete FROM pragma_foreign_key_list('{name}') ORDER BY id, seq"
        )))
        .fetch_all(pool)
        .await
        .unwrap();
        let mut grouped: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for f in &fks {
            let entry = grouped.entry(int(f, "id")).or_insert_with(|| {
                (
                    Vec::new(),
                    text(f, "target"),
                    Vec::new(),
                    text(f, "on_delete").to_ascii_uppercase(),
                )
            });
            entry.0.push(text(f, "src"));
            // A reference to the target's primary key may omit the column.
            entry
                .2
                .push(f.try_get::<String, _>("dst").unwrap_or_default());
        }
        table.foreign_keys = grouped.into_values().collect();
        schema.insert(name, table);
    }
    fill_implicit_references(&mut schema);
    schema
}

/// `REFERENCES t` without columns means t's primary key.
fn fill_implicit_references(schema: &mut Schema) {
    let pks: BTreeMap<String, Vec<String>> = schema
        .iter()
        .map(|(n, t)| (n.clone(), t.primary_key.clone()))
        .collect();
    for table in schema.values_mut() {
        table.foreign_keys = std::mem::take(&mut table.foreign_keys)
            .into_iter()
            .map(|(from, target, to, del)| {
                let to = if to.iter().all(String::is_empty) {
                    pks.get(&target).cloned().unwrap_or(to)
                } else {
                    to
                };
                (from, target, to, del)
            })
            .collect();
    }
}

async fn postgres_schema(pool: &AnyPool) -> Schema {
    let mut schema = Schema::new();
    let cols = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty, is_nullable::text AS nullable
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for c in &cols {
        schema.entry(text(c, "t")).or_default().columns.insert(
            text(c, "c"),
            (family(&text(c, "ty")), text(c, "nullable") == "NO"),
        );
    }

    // Indexes, the primary key among them, with their columns in order.
    let idx = sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS i, (CASE WHEN ix.indisunique THEN 1 ELSE 0 END)::int8 AS uq,
                (CASE WHEN ix.indisprimary THEN 1 ELSE 0 END)::int8 AS pk, a.attname::text AS c, k.ord AS ord
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE n.nspname = 'public' AND t.relname NOT LIKE '_sqlx%'
         ORDER BY t.relname, i.relname, k.ord",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut by_index: BTreeMap<(String, String), (Vec<String>, bool, bool)> = BTreeMap::new();
    for r in &idx {
        let e = by_index
            .entry((text(r, "t"), text(r, "i")))
            .or_insert_with(|| (Vec::new(), int(r, "uq") == 1, int(r, "pk") == 1));
        e.0.push(text(r, "c"));
    }
    for ((t, _), (cols, unique, pk)) in by_index {
        let table = schema.entry(t).or_default();
        if pk {
            table.primary_key = cols;
        } else {
            table.indexes.insert((cols, unique));
        }
    }

    let fks = sqlx::query(
        "SELECT t.relname::text AS t, c.oid::int8 AS id, r.relname::text AS target,
                a.attname::text AS src, ra.attname::text AS dst, c.confdeltype::text AS del, k.ord AS ord
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_class r ON r.oid = c.confrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(src, dst, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.src
         JOIN pg_attribute ra ON ra.attrelid = r.oid AND ra.attnum = k.dst
         WHERE c.contype = 'f' AND n.nspname = 'public'
         ORDER BY t.relname, c.oid, k.ord",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut grouped: BTreeMap<(String, i64), ForeignKey> = BTreeMap::new();
    for f in &fks {
        let action = match text(f, "del").as_str() {
            "c" => "CASCADE",
            "n" => "SET NULL",
            "d" => "SET DEFAULT",
            "r" => "RESTRICT",
            _ => "NO ACTION",
        };
        let e = grouped
            .entry((text(f, "t"), int(f, "id")))
            .or_insert_with(|| (Vec::new(), text(f, "target"), Vec::new(), action.into()));
        e.0.push(text(f, "src"));
        e.2.push(text(f, "dst"));
    }
    for ((t, _), fk) in grouped {
        schema.entry(t).or_default().foreign_keys.insert(fk);
    }

    let checks = sqlx::query(
        "SELECT t.relname::text AS t, count(*)::int8 AS n
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_namespace ns ON ns.oid = t.relnamespace
         WHERE c.contype = 'c' AND ns.nspname = 'public'
         GROUP BY t.relname",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for r in &checks {
        schema.entry(text(r, "t")).or_default().checks = usize::try_from(int(r, "n")).unwrap();
    }
    schema
}

/// Lines naming every difference, table by table, so a failure says what to fix.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for name in names {
        let (Some(s), Some(p)) = (sqlite.get(name), postgres.get(name)) else {
            let only = if sqlite.contains_key(name) {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            out.push(format!("table {name}: only in {only}"));
            continue;
        };
        let cols: BTreeSet<&String> = s.columns.keys().chain(p.columns.keys()).collect();
        for c in cols {
            if s.columns.get(c) != p.columns.get(c) {
                out.push(format!(
                    "{name}.{c}: SQLite {:?} vs PostgreSQL {:?} (type family, NOT NULL)",
                    s.columns.get(c),
                    p.columns.get(c)
                ));
            }
        }
        if s.primary_key != p.primary_key {
            out.push(format!(
                "{name}: primary key SQLite {:?} vs PostgreSQL {:?}",
                s.primary_key, p.primary_key
            ));
        }
        for i in s.indexes.symmetric_difference(&p.indexes) {
            let only = if s.indexes.contains(i) {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            out.push(format!(
                "{name}: index {i:?} (columns, unique) only in {only}"
            ));
        }
        if s.checks != p.checks {
            out.push(format!(
                "{name}: {} CHECK constraints in SQLite, {} in PostgreSQL",
                s.checks, p.checks
            ));
        }
        for f in s.foreign_keys.symmetric_difference(&p.foreign_keys) {
            let only = if s.foreign_keys.contains(f) {
                "SQLite"
            } else {
                "PostgreSQL"
            };
            out.push(format!("{name}: foreign key {f:?} only in {only}"));
        }
    }
    out
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    let Some(admin_url) = support::postgres_admin_url() else {
        return;
    };
    let lite = Store::connect("sqlite::memory:").await.unwrap();
    lite.migrate().await.unwrap();
    let sqlite = sqlite_schema(lite.pool()).await;

    let db = support::PgDatabase::create(&admin_url).await;
    let pool = AnyPool::connect(&db.url).await.unwrap();
    let pg = Store::connect(&db.url).await.unwrap();
    pg.migrate().await.unwrap();
    let postgres = postgres_schema(&pool).await;
    pool.close().await;
    pg.close().await;

    assert!(
        sqlite.len() > 20,
        "too few tables seen: {:?}",
        sqlite.keys()
    );
    assert!(
        sqlite.values().any(|t| !t.foreign_keys.is_empty()),
        "no foreign key seen"
    );
    let diff = differences(&sqlite, &postgres);
    assert!(
        diff.is_empty(),
        "the migrations disagree:\n{}",
        diff.join("\n")
    );
}

#[test]
fn a_difference_is_reported() {
    let mut a = Schema::new();
    let mut t = Table::default();
    t.columns.insert("id".into(), ("text".into(), true));
    t.primary_key = vec!["id".into()];
    a.insert("users".into(), t);
    let mut b = Schema::new();
    let mut t = Table::default();
    t.columns.insert("id".into(), ("text".into(), false));
    t.primary_key = vec!["id".into()];
    t.indexes.insert((vec!["id".into()], true));
    b.insert("users".into(), t);
    b.insert("extra".into(), Table::default());
    let diff = differences(&a, &b);
    assert_eq!(diff.len(), 3, "{diff:?}");
    assert_eq!(family("BIGINT"), family("INTEGER"));
    assert_eq!(family("BYTEA"), family("BLOB"));
}
