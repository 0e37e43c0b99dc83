//! DATABASE_URL's `sslmode` and `sslrootcert` against a PostgreSQL server with TLS, with libpq's
//! meaning: `require` encrypts, `verify-ca` checks the chain, `verify-full` the host name too.

use std::fs;
use std::path::PathBuf;

use backend::{App, Config};
use rcgen::{CertificateParams, CertifiedIssuer, KeyPair};
use testkit::postgres::{PgOptions, PgServer, create_database};

use crate::support::{connect, service_env};

/// A server whose certificate is issued by a private CA for the name `localhost` only.
struct TlsServer {
    server: PgServer,
    ca_file: PathBuf,
    _dir: PathBuf,
}

fn start_tls_server() -> TlsServer {
    let dir = std::env::temp_dir().join(format!("tls-test-{}", uuid::Uuid::new_v4().simple()));
    fs::create_dir_all(&dir).unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();

    let ca_file = dir.join("ca.pem");
    let cert_file = dir.join("server.crt");
    let key_file = dir.join("server.key");
    fs::write(&ca_file, ca.pem()).unwrap();
    fs::write(&cert_file, server_cert.pem()).unwrap();
    fs::write(&key_file, server_key.serialize_pem()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&key_file, fs::Permissions::from_mode(0o600)).unwrap();

    let server = PgServer::start_with(PgOptions {
        tls: Some((cert_file, key_file)),
        ..PgOptions::default()
    })
    .unwrap();
    TlsServer {
        server,
        ca_file,
        _dir: dir,
    }
}

/// A URL for a fresh database on `server` reached as `host`, with `params` appended.
async fn url_for(server: &PgServer, host: &str, params: &str) -> String {
    let url = create_database(&server.url("postgres")).await.unwrap();
    let url = url
        .replace("sslmode=disable", params)
        .replace("127.0.0.1", host);
    url.trim_end_matches(['?', '&']).to_owned()
}

async fn build(database_url: &str) -> Result<App, String> {
    let vars = service_env(database_url, &[("DB_STARTUP_TIMEOUT_SECS", "1")]);
    let config = Config::from_lookup(|name| vars.get(name).cloned()).map_err(|e| e.to_string())?;
    App::build(config).await.map_err(|error| error.to_string())
}

/// Whether every connection of the service to `server` is encrypted.
async fn service_connections_encrypted(server: &PgServer) -> bool {
    let admin = connect(&server.url("postgres")).await;
    let row = admin
        .query_one(
            "SELECT count(*), coalesce(bool_and(s.ssl), false) FROM pg_stat_ssl s
             JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'todo-chatbot-backend'",
            &[],
        )
        .await
        .unwrap();
    row.get::<_, i64>(0) > 0 && row.get::<_, bool>(1)
}

#[tokio::test]
async fn sslmode_require_encrypts_without_checking_the_certificate() {
    let tls = start_tls_server();
    let app = build(&url_for(&tls.server, "127.0.0.1", "sslmode=require").await)
        .await
        .unwrap();
    assert!(service_connections_encrypted(&tls.server).await);
    drop(app);
}

#[tokio::test]
async fn sslmode_verify_ca_checks_the_chain_but_not_the_host_name() {
    let tls = start_tls_server();
    let ca = tls.ca_file.display();
    build(
        &url_for(
            &tls.server,
            "127.0.0.1",
            &format!("sslmode=verify-ca&sslrootcert={ca}"),
        )
        .await,
    )
    .await
    .expect("chain is trusted; 127.0.0.1 is not in the certificate but verify-ca does not care");
    let untrusted = build(&url_for(&tls.server, "127.0.0.1", "sslmode=verify-ca").await).await;
    assert!(
        untrusted.is_err(),
        "a private CA is not among the built-in roots"
    );
}

#[tokio::test]
async fn sslmode_verify_full_needs_a_trusted_chain_and_matching_host() {
    let tls = start_tls_server();
    let ca = tls.ca_file.display();
    let app = build(
        &url_for(
            &tls.server,
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        )
        .await,
    )
    .await
    .expect("trusted chain, matching host");
    assert!(service_connections_encrypted(&tls.server).await);
    drop(app);

    let wrong_host = build(
        &url_for(
            &tls.server,
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        )
        .await,
    )
    .await;
    let error = wrong_host.err().expect("host name mismatch is refused");
    assert!(error.contains("TLS failed"), "{error}");
    assert!(error.contains("not valid for name"), "{error}");
    assert!(error.contains("Not retried"), "{error}");

    let untrusted = build(&url_for(&tls.server, "localhost", "sslmode=verify-full").await).await;
    assert!(
        untrusted.is_err(),
        "a private CA is not among the built-in roots"
    );
}

#[tokio::test]
async fn sslmode_require_refuses_a_server_without_tls() {
    let plain = testkit::postgres::fresh_database().await.unwrap();
    let error = build(&plain.replace("sslmode=disable", "sslmode=require"))
        .await
        .err()
        .expect("require must not fall back to plain text");
    assert!(error.contains("TLS failed"), "{error}");
    assert!(error.contains("server does not support TLS"), "{error}");
}

#[tokio::test]
async fn missing_sslrootcert_file_is_a_clear_startup_error() {
    let plain = testkit::postgres::fresh_database().await.unwrap();
    let url = plain.replace(
        "sslmode=disable",
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    );
    let error = build(&url).await.err().expect("start-up fails");
    assert!(error.contains("sslrootcert /nonexistent/ca.pem"), "{error}");
}
