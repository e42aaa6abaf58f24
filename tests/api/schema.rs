//! `src/db/schema.rs` against the databases the migrations make, and the two migration trees
//! against each other. diesel's backends cannot share every statement, so `migrations/sqlite`
//! and `migrations/postgres` stay two trees, with the same versions in the same order.
//!
//! An introspection test rather than `diesel print-schema` in CI: diesel_cli would have to be
//! built there (minutes, linked against libpq, which this project otherwise never needs), and it
//! prints each backend's schema in that backend's own types, which matches neither side of the
//! one schema both share. Here a fresh database is migrated with the migrations embedded in the
//! server, its columns are read back (`information_schema.columns`, `pragma_table_info`), and
//! each table is compared with the `diesel::table!` blocks of `schema.rs`: the same tables, the
//! same set of columns (diesel names every column, so their order does not matter), the same
//! nullability, and a database type each diesel type may be read from. SQLite always; PostgreSQL
//! when `TEST_DATABASE_URL` is set.

use std::collections::{BTreeMap, BTreeSet};

use diesel::{
    QueryableByName,
    sql_types::{Bool, Text},
};
use diesel_async::RunQueryDsl;
use users_api::db::{DatabaseUrl, Db, Timeouts};

use crate::helpers::{TestDatabase, on_db};

/// Per table, per column: (type, nullable). The type is diesel's in `schema.rs`, the database's
/// as introspected.
type Tables = BTreeMap<String, BTreeMap<String, (String, bool)>>;

/// diesel's own bookkeeping, not in `schema.rs`.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

const POSTGRES_COLUMNS: &str = "SELECT table_name::text AS table_name, \
     column_name::text AS column_name, data_type::text AS data_type, \
     is_nullable = 'YES' AS nullable \
     FROM information_schema.columns WHERE table_schema = current_schema()";

const SQLITE_COLUMNS: &str = "SELECT m.name AS table_name, c.name AS column_name, \
     c.type AS data_type, c.\"notnull\" = 0 AS nullable \
     FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c \
     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
}

#[test]
fn the_two_migration_trees_have_the_same_versions_in_the_same_order() {
    let versions = |backend: &str| {
        let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|entry| entry.unwrap())
            .filter(|entry| entry.file_type().unwrap().is_dir())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = versions("sqlite");
    assert!(!sqlite.is_empty(), "no migrations found");
    assert_eq!(
        sqlite,
        versions("postgres"),
        "migrations/sqlite and migrations/postgres must hold the same migrations"
    );
}

#[tokio::test]
async fn schema_rs_matches_a_migrated_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join("schema.db").display().to_string());
    assert_no_differences(Backend::Sqlite, &migrated_tables(&url).await);
}

#[tokio::test]
async fn schema_rs_matches_a_migrated_postgres_database() {
    let server = match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => server,
        _ => {
            eprintln!("PostgreSQL is checked when TEST_DATABASE_URL is set");
            return;
        }
    };
    let database = TestDatabase::create(&server).await;
    let tables = migrated_tables(&DatabaseUrl::Postgres(database.url.clone())).await;
    database.drop_blocking();
    assert_no_differences(Backend::Postgres, &tables);
}

fn assert_no_differences(backend: Backend, migrated: &Tables) {
    let problems = differences(&declared_tables(), migrated, backend);
    assert!(
        problems.is_empty(),
        "src/db/schema.rs does not match the migrated {backend:?} database:\n{}",
        problems.join("\n")
    );
}

/// The columns of every table of a fresh database at `url` after the migrations.
async fn migrated_tables(url: &DatabaseUrl) -> Tables {
    let db = Db::connect(url, Timeouts::default())
        .await
        .expect("database connects and migrates");
    let sql = match url {
        DatabaseUrl::Postgres(_) => POSTGRES_COLUMNS,
        DatabaseUrl::Sqlite(_) => SQLITE_COLUMNS,
    };
    let columns: Vec<Column> = on_db!(db, |conn| diesel::sql_query(sql)
        .load(conn)
        .await
        .expect("columns introspected"));
    let mut tables = Tables::new();
    for column in columns {
        if column.table_name != MIGRATIONS_TABLE {
            tables
                .entry(column.table_name)
                .or_default()
                .insert(column.column_name, (column.data_type, column.nullable));
        }
    }
    tables
}

/// The `diesel::table!` blocks of `src/db/schema.rs`, read line by line: a header
/// `name (keys) {`, then one `column -> Type,` or `column -> Nullable<Type>,` per line.
fn declared_tables() -> Tables {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/schema.rs");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut tables = Tables::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "diesel::table! {" {
            continue;
        }
        let header = lines.next().unwrap_or_default();
        let name = header.split([' ', '(']).next().unwrap_or_default();
        let mut columns = BTreeMap::new();
        for line in lines.by_ref().take_while(|line| *line != "}") {
            if line.is_empty() || line.starts_with("//") {
                continue;
            }
            let Some((column, sql_type)) = line.trim_end_matches(',').split_once(" -> ") else {
                panic!("schema.rs, table {name}: cannot read {line:?}; teach this parser");
            };
            let (sql_type, nullable) = match sql_type.strip_prefix("Nullable<") {
                Some(inner) => (inner.trim_end_matches('>'), true),
                None => (sql_type, false),
            };
            columns.insert(column.to_owned(), (sql_type.to_owned(), nullable));
        }
        tables.insert(name.to_owned(), columns);
    }
    assert_eq!(
        tables.len(),
        text.matches("table!").count(),
        "every table! block of schema.rs is read"
    );
    tables
}

/// The database types a diesel type may be read from, as each backend spells them
/// (`information_schema.columns.data_type`; SQLite's declared type, upper-cased, without a
/// length).
fn accepted(sql_type: &str, backend: Backend) -> &'static [&'static str] {
    match (sql_type, backend) {
        ("Text", Backend::Postgres) => &["text", "character varying"],
        ("Text", _) => &["TEXT", "VARCHAR"],
        ("BigInt", Backend::Postgres) => &["bigint"],
        ("BigInt", _) => &["BIGINT", "INTEGER"],
        ("Integer", Backend::Postgres) => &["integer"],
        ("Integer", _) => &["INTEGER", "INT"],
        ("Bool", Backend::Postgres) => &["boolean"],
        ("Bool", _) => &["BOOLEAN"],
        ("Timestamp", Backend::Postgres) => &["timestamp without time zone"],
        ("Timestamp", _) => &["TIMESTAMP", "DATETIME"],
        (other, _) => panic!("schema.rs uses {other}: add the database types it maps to here"),
    }
}

/// Every way `migrated` differs from `declared`, one line each.
fn differences(declared: &Tables, migrated: &Tables, backend: Backend) -> Vec<String> {
    let mut problems = Vec::new();
    let keys = |tables: &Tables| tables.keys().cloned().collect::<BTreeSet<_>>();
    for table in keys(declared).symmetric_difference(&keys(migrated)) {
        let place = if declared.contains_key(table) {
            "in schema.rs but not in the migrations"
        } else {
            "migrated but not in schema.rs"
        };
        problems.push(format!("table {table}: {place}"));
    }
    for (table, columns) in declared {
        let Some(found) = migrated.get(table) else {
            continue;
        };
        for (column, (sql_type, nullable)) in columns {
            let Some((data_type, found_nullable)) = found.get(column) else {
                problems.push(format!("{table}.{column}: in schema.rs but not migrated"));
                continue;
            };
            if nullable != found_nullable {
                let null = |n: &bool| if *n { "nullable" } else { "NOT NULL" };
                problems.push(format!(
                    "{table}.{column}: {} in schema.rs, {} in the database",
                    null(nullable),
                    null(found_nullable)
                ));
            }
            let spelled = match backend {
                Backend::Postgres => data_type.clone(),
                _ => data_type
                    .split('(')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_uppercase(),
            };
            let allowed = accepted(sql_type, backend);
            if !allowed.contains(&spelled.as_str()) {
                problems.push(format!(
                    "{table}.{column}: {sql_type} in schema.rs, {data_type} in the database \
                     (expected one of {allowed:?})"
                ));
            }
        }
        for column in found.keys().filter(|c| !columns.contains_key(*c)) {
            problems.push(format!("{table}.{column}: migrated but not in schema.rs"));
        }
    }
    problems
}
