//! What a run needs: the release binary, and a durable PostgreSQL with the schema and seed data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use testkit::postgres::{PgOptions, PgServer};

use crate::service::Service;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub struct Setup {
    /// The server stops when the setup is dropped.
    pub server: PgServer,
    pub database_url: String,
    pub task_id: String,
}

/// A durable PostgreSQL with the schema (applied by starting the service once) and seed data:
/// user `bench` with 1 000 tasks and user `bench-large` with 100 000.
pub async fn setup(binary: &Path) -> Result<Setup> {
    let server = PgServer::start_with(PgOptions {
        durable: true,
        ..PgOptions::default()
    })?;
    let database_url = testkit::postgres::create_database(&server.url("postgres")).await?;
    drop(Service::start(binary, &database_url, &[])?);
    let (client, connection) =
        tokio_postgres::connect(&database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    for (user, count) in [("bench", 1_000), ("bench-large", 100_000)] {
        client
            .execute(
                "INSERT INTO tasks (id, user_id, title, description, created_at, updated_at)
                 SELECT gen_random_uuid(), $1, 'seeded task ' || n, 'a description of moderate length',
                        now() - n * interval '1 second', now() - n * interval '1 second'
                 FROM generate_series(1, $2::int) AS n",
                &[&user, &count],
            )
            .await
            .with_context(|| format!("seeding {count} tasks for {user}"))?;
    }
    client.batch_execute("VACUUM ANALYZE").await?;
    let row = client
        .query_one(
            "SELECT id::text FROM tasks WHERE user_id = 'bench' LIMIT 1",
            &[],
        )
        .await?;
    Ok(Setup {
        server,
        database_url,
        task_id: row.get(0),
    })
}

/// The service binary to measure: `BENCH_BINARY` if set (to compare another build), else the
/// workspace's release build.
pub fn binary() -> Result<PathBuf> {
    let binary = std::env::var_os("BENCH_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/backend"));
    if !binary.exists() {
        bail!(
            "{} missing: run `cargo build --release -p backend` (make bench does)",
            binary.display()
        );
    }
    Ok(binary)
}
