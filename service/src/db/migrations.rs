//! Schema migrations: numbered SQL files in `service/migrations/`, applied at start-up.
//!
//! All replicas run this when they start. A transaction-scoped advisory lock makes them take
//! turns, so four pods starting together on an empty database apply each migration once.
//!
//! Each applied migration's SHA-256 is recorded, and a migration whose file changed after a
//! database applied it stops start-up with its name: the database's schema no longer matches
//! what the file says, and only a new migration can change it.

use std::collections::HashMap;

use tracing::info;

use crate::telemetry::error_chain;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

impl Migration {
    /// The file's name in `service/migrations/`.
    fn file(&self) -> String {
        format!("{:04}_{}.sql", self.version, self.name)
    }

    /// The SHA-256 of the SQL, in hex.
    fn checksum(&self) -> String {
        ring::digest::digest(&ring::digest::SHA256, self.sql.as_bytes())
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "create_tasks",
    sql: include_str!("../../migrations/0001_create_tasks.sql"),
}];

/// Arbitrary but fixed: every replica must ask for the same lock.
pub const MIGRATION_LOCK_KEY: i64 = 0x746f_646f_2d6d_6967;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{}", error_chain(.0))]
    Database(#[from] tokio_postgres::Error),
    #[error(
        "migration {file} was changed after this database applied it (SHA-256 {current}, \
         applied as {applied}): an applied migration must stay as it was; restore it and put \
         the change in a new migration"
    )]
    Edited {
        file: String,
        applied: String,
        current: String,
    },
}

/// Applies the migrations this database has not seen yet; returns the versions it applied.
///
/// Neither the wait for the lock nor a migration is bounded here (a role's or the URL's
/// statement or lock timeout is lifted for the transaction): the caller bounds the whole run
/// with the start-up deadline.
pub async fn run(client: &mut tokio_postgres::Client) -> Result<Vec<i32>, MigrationError> {
    apply(client, MIGRATIONS).await
}

async fn apply(
    client: &mut tokio_postgres::Client,
    migrations: &[Migration],
) -> Result<Vec<i32>, MigrationError> {
    let transaction = client.transaction().await?;
    transaction
        .batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
        .await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    // The checksum column came after the table: databases migrated before it gain it here.
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now(),
                checksum   text
            );
            ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text",
        )
        .await?;
    let applied: HashMap<i32, Option<String>> = transaction
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();

    let mut newly_applied = Vec::new();
    for migration in migrations {
        let checksum = migration.checksum();
        match applied.get(&migration.version) {
            Some(Some(recorded)) if *recorded == checksum => {}
            // Dropping the transaction rolls back what this run did.
            Some(Some(recorded)) => {
                return Err(MigrationError::Edited {
                    file: migration.file(),
                    applied: recorded.clone(),
                    current: checksum,
                });
            }
            // Applied before checksums were recorded: what the file says now is taken as what
            // was applied.
            Some(None) => {
                transaction
                    .execute(
                        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
                        &[&migration.version, &checksum],
                    )
                    .await?;
            }
            None => {
                transaction.batch_execute(migration.sql).await?;
                transaction
                    .execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        &[&migration.version, &migration.name, &checksum],
                    )
                    .await?;
                info!(
                    version = migration.version,
                    name = migration.name,
                    "applied database migration"
                );
                newly_applied.push(migration.version);
            }
        }
    }
    transaction.commit().await?;
    Ok(newly_applied)
}

#[cfg(test)]
mod tests {
    use tokio_postgres::NoTls;

    use super::{MIGRATIONS, Migration, MigrationError, apply};

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "{}", migration.name);
        }
    }

    #[test]
    fn each_migration_names_its_file() {
        for migration in MIGRATIONS {
            let path = format!(
                "{}/migrations/{}",
                env!("CARGO_MANIFEST_DIR"),
                migration.file()
            );
            assert_eq!(
                std::fs::read_to_string(&path).unwrap_or_default(),
                migration.sql,
                "{path}"
            );
        }
    }

    const ORIGINAL: Migration = Migration {
        version: 1,
        name: "create_things",
        sql: "CREATE TABLE things (id integer)",
    };
    const EDITED: Migration = Migration {
        sql: "CREATE TABLE things (id bigint)",
        ..ORIGINAL
    };

    async fn fresh_client() -> tokio_postgres::Client {
        let url = testkit::postgres::fresh_database().await.unwrap();
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    async fn assert_refused_as_edited(client: &mut tokio_postgres::Client) {
        let error = apply(client, &[EDITED]).await.unwrap_err();
        assert!(matches!(error, MigrationError::Edited { .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("0001_create_things.sql"), "{message}");
        assert!(message.contains(&ORIGINAL.checksum()), "{message}");
    }

    #[tokio::test]
    async fn a_migration_edited_after_it_was_applied_is_refused_by_name() {
        let mut client = fresh_client().await;
        assert_eq!(apply(&mut client, &[ORIGINAL]).await.unwrap(), [1]);
        assert_eq!(
            apply(&mut client, &[ORIGINAL]).await.unwrap(),
            Vec::<i32>::new(),
            "applied once"
        );
        assert_refused_as_edited(&mut client).await;
    }

    #[tokio::test]
    async fn migrations_applied_before_checksums_get_theirs_recorded() {
        let mut client = fresh_client().await;
        // schema_migrations as releases before checksums left it.
        client
            .batch_execute(
                "CREATE TABLE schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                CREATE TABLE things (id integer);
                INSERT INTO schema_migrations (version, name) VALUES (1, 'create_things')",
            )
            .await
            .unwrap();
        assert_eq!(
            apply(&mut client, &[ORIGINAL]).await.unwrap(),
            Vec::<i32>::new()
        );
        let recorded: String = client
            .query_one(
                "SELECT checksum FROM schema_migrations WHERE version = 1",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(recorded, ORIGINAL.checksum());
        assert_refused_as_edited(&mut client).await;
    }
}
