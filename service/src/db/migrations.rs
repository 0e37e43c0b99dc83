//! Schema migrations: numbered SQL files in `service/migrations/`, applied at start-up.
//!
//! All replicas run this when they start. A transaction-scoped advisory lock makes them take
//! turns, so four pods starting together on an empty database apply each migration once.

use std::collections::HashSet;

use tracing::info;

struct Migration {
    version: i32,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "create_tasks",
    sql: include_str!("../../migrations/0001_create_tasks.sql"),
}];

/// Arbitrary but fixed: every replica must ask for the same lock.
pub const MIGRATION_LOCK_KEY: i64 = 0x746f_646f_2d6d_6967;

/// Applies the migrations this database has not seen yet; returns the versions it applied.
///
/// Neither the wait for the lock nor a migration is bounded here (a role's or the URL's
/// statement or lock timeout is lifted for the transaction): the caller bounds the whole run
/// with the start-up deadline.
pub async fn run(client: &mut tokio_postgres::Client) -> Result<Vec<i32>, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction
        .batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
        .await?;
    transaction
        .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let applied: HashSet<i32> = transaction
        .query("SELECT version FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();

    let mut newly_applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        transaction.batch_execute(migration.sql).await?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[&migration.version, &migration.name],
            )
            .await?;
        info!(
            version = migration.version,
            name = migration.name,
            "applied database migration"
        );
        newly_applied.push(migration.version);
    }
    transaction.commit().await?;
    Ok(newly_applied)
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1, "{}", migration.name);
        }
    }
}
