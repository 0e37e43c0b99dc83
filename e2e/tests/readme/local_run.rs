//! The README's "Run it locally", run: its one set-up line, against a PostgreSQL that asks a
//! password over TCP as Debian's and Ubuntu's package does (`scram-sha-256` for `host` lines in
//! its pg_hba.conf; its `postgres` role has none), then the backend started with the README's
//! DATABASE_URL and secret (on the test server's port) answers /api/health. Without the
//! set-up's password the same URL ends start-up at once, saying authentication failed.

use backend::{App, Config};
use testkit::postgres::{PgOptions, PgServer};

use crate::commands::{Command, commands};

/// The shell commands of the README's "Run it locally".
fn local_run() -> Vec<Command> {
    let readme = crate::readme();
    let section = readme
        .split("\n### Run it locally\n")
        .nth(1)
        .expect("a \"Run it locally\" section")
        .split("\n## ")
        .next()
        .unwrap();
    commands("README.md (Run it locally)", section)
}

/// The backend configured from `variables` (PORT 0), as `cargo run -p backend` would be.
async fn start(variables: &[(String, String)]) -> Result<App, String> {
    let config = Config::from_lookup(|name| match name {
        "PORT" => Some("0".to_owned()),
        "LOG_LEVEL" => Some("warn".to_owned()),
        "DB_STARTUP_TIMEOUT_SECS" => Some("10".to_owned()),
        _ => variables
            .iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.clone()),
    })
    .map_err(|error| error.to_string())?;
    App::build(config).await.map_err(|error| error.to_string())
}

#[tokio::test]
async fn the_manual_local_run_works_on_a_postgresql_that_wants_a_password() {
    let commands = local_run();
    let setup = commands
        .iter()
        .find(|c| c.starts_with(&["sudo", "-u", "postgres", "psql"]))
        .expect("the set-up line: sudo -u postgres psql -c ...");
    let statements = setup.option_values(&["-c"]);
    assert!(!statements.is_empty(), "{setup}");
    let run = commands
        .iter()
        .find(|c| c.starts_with(&["cargo", "run", "-p", "backend"]))
        .expect("cargo run -p backend with its variables");
    let url = &run
        .assignments
        .iter()
        .find(|(name, _)| name == "DATABASE_URL")
        .expect("DATABASE_URL is given")
        .1;
    assert!(
        url.contains("@localhost:5432/"),
        "{url}: the local default port"
    );

    let server = PgServer::start_with(PgOptions {
        password: Some("superuser-password-the-readme-does-not-know".into()),
        ..PgOptions::default()
    })
    .expect("PostgreSQL starts (make tools installs its server binaries)");
    let on_server = url.replace(":5432/", &format!(":{}/", server.port()));
    let variables: Vec<(String, String)> = run
        .assignments
        .iter()
        .map(|(name, value)| match name.as_str() {
            "DATABASE_URL" => (name.clone(), on_server.clone()),
            _ => (name.clone(), value.clone()),
        })
        .collect();

    // Before the set-up the role does not exist: start-up stops at once and says why.
    let refused = start(&variables).await.err().expect("no role, no start");
    assert!(refused.contains("authentication failed"), "{refused}");

    // The set-up, as the README's superuser (psql runs each -c on its own, outside a transaction).
    let (client, connection) =
        tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    for statement in &statements {
        client
            .batch_execute(statement)
            .await
            .unwrap_or_else(|error| panic!("{setup}: {statement}: {error:?}"));
    }

    let app = start(&variables)
        .await
        .unwrap_or_else(|error| panic!("{run} after {setup}: {error}"));
    let health = format!("http://127.0.0.1:{}/api/health", app.port());
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let response = reqwest::get(&health).await.unwrap();
    assert_eq!(response.status(), 200, "{health}");
}
