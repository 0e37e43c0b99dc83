//! DATABASE_URL, parsed with libpq's meaning of `sslmode` and `sslrootcert`.
//!
//! tokio-postgres knows only `sslmode=disable|prefer|require` and rejects other libpq options, but
//! connection strings handed out by managed Postgres providers use `verify-full` and
//! `sslrootcert` too. Those two are taken out here and turned into the TLS policy of
//! [`super::tls`]; everything else goes to tokio-postgres unchanged, byte for byte: it decodes
//! `%XX` as libpq does, and re-encoding the values (form encoding turns `%20` into `+`, which
//! neither decodes) would change what reaches the server, `options=-c%20search_path%3Dapp`
//! included.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use tokio_postgres::config::{Host, SslMode};

/// How the connection is encrypted and how much of the server certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it, otherwise plain (libpq's default).
    Prefer,
    /// TLS or no connection. As in libpq, the certificate chain is checked only when a root
    /// certificate is given with `sslrootcert`.
    Require,
    /// TLS, certificate chain checked, host name not checked.
    VerifyCa,
    /// TLS, certificate chain and host name checked.
    VerifyFull,
}

impl FromStr for TlsMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "disable" => Ok(TlsMode::Disable),
            // `allow` means "plain unless the server insists"; Postgres servers never insist.
            "allow" | "prefer" => Ok(TlsMode::Prefer),
            "require" => Ok(TlsMode::Require),
            "verify-ca" => Ok(TlsMode::VerifyCa),
            "verify-full" => Ok(TlsMode::VerifyFull),
            other => Err(format!(
                "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
            )),
        }
    }
}

/// A parsed DATABASE_URL. `Debug` and `Display` never show the password.
#[derive(Clone)]
pub struct DatabaseUrl {
    config: tokio_postgres::Config,
    tls_mode: TlsMode,
    root_cert: Option<PathBuf>,
}

impl DatabaseUrl {
    /// Parses `raw`; `password`, when given, replaces any password in the URL (it comes from
    /// DATABASE_PASSWORD, so that a chart can take it from the database's own Secret).
    pub fn parse(raw: &str, password: Option<SecretString>) -> Result<DatabaseUrl, String> {
        let mut url = url::Url::parse(raw).map_err(|error| format!("not a URL: {error}"))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err("must start with postgres:// or postgresql://".into());
        }

        let mut tls_mode = TlsMode::Prefer;
        let mut root_cert = None;
        let mut passed_on = Vec::new();
        for pair in url.query().unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match decode(key)?.as_str() {
                "" => {}
                "sslmode" => tls_mode = decode(value)?.parse()?,
                "sslrootcert" => root_cert = Some(PathBuf::from(decode(value)?)),
                _ => passed_on.push(pair.to_owned()),
            }
        }
        let driver_mode = match tls_mode {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => "require",
        };
        passed_on.push(format!("sslmode={driver_mode}"));
        url.set_query(Some(&passed_on.join("&")));

        let mut config = tokio_postgres::Config::from_str(url.as_str())
            .map_err(|error| format!("not a valid Postgres URL: {error}"))?;
        if let Some(password) = password {
            config.password(password.expose_secret());
        }
        if config.get_application_name().is_none() {
            config.application_name("todo-chatbot-backend");
        }
        debug_assert!(matches!(
            config.get_ssl_mode(),
            SslMode::Disable | SslMode::Prefer | SslMode::Require
        ));
        Ok(DatabaseUrl {
            config,
            tls_mode,
            root_cert,
        })
    }

    /// The driver configuration (the password inside it is redacted by its own `Debug`).
    pub fn driver_config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    pub fn tls_mode(&self) -> TlsMode {
        self.tls_mode
    }

    pub fn root_cert(&self) -> Option<&PathBuf> {
        self.root_cert.as_ref()
    }
}

/// A query key or value as libpq reads it: `%XX` decoded, nothing else (`+` is a plus sign).
fn decode(raw: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| format!("{raw:?} in the query is not UTF-8 once decoded"))
}

impl fmt::Display for DatabaseUrl {
    /// `postgres://user@host:port/dbname`, safe for logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = self.config.get_user().unwrap_or("");
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(name)) => name.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => "localhost".into(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let dbname = self.config.get_dbname().unwrap_or(user);
        write!(f, "postgres://{user}@{host}:{port}/{dbname}")
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.to_string())
            .field("tls_mode", &self.tls_mode)
            .field("root_cert", &self.root_cert)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> DatabaseUrl {
        DatabaseUrl::parse(raw, None).expect("URL should parse")
    }

    #[test]
    fn managed_postgres_url_with_libpq_options_parses() {
        let url = parse(
            "postgresql://app:s3cret@ep-cool-1.eu.aws.neon.tech/neondb?sslmode=verify-full&sslrootcert=/etc/ssl/ca.pem&channel_binding=require",
        );
        assert_eq!(url.tls_mode(), TlsMode::VerifyFull);
        assert_eq!(url.root_cert(), Some(&PathBuf::from("/etc/ssl/ca.pem")));
        assert_eq!(url.driver_config().get_ssl_mode(), SslMode::Require);
        assert_eq!(
            url.to_string(),
            "postgres://app@ep-cool-1.eu.aws.neon.tech:5432/neondb"
        );
    }

    #[test]
    fn query_values_reach_the_driver_as_the_user_encoded_them() {
        let url = parse(
            "postgres://app@db/app?options=-c%20search_path%3Dapp&application_name=a+b%20c&sslmode=require&sslrootcert=/etc/my%20certs/ca+1.pem",
        );
        assert_eq!(
            url.driver_config().get_options(),
            Some("-c search_path=app")
        );
        // libpq leaves `+` alone; only form encoding reads it as a space.
        assert_eq!(url.driver_config().get_application_name(), Some("a+b c"));
        assert_eq!(
            url.root_cert(),
            Some(&PathBuf::from("/etc/my certs/ca+1.pem"))
        );
        assert_eq!(url.tls_mode(), TlsMode::Require);
    }

    #[test]
    fn sslmode_defaults_to_prefer() {
        assert_eq!(parse("postgres://app@db/app").tls_mode(), TlsMode::Prefer);
    }

    #[test]
    fn require_is_passed_to_the_driver() {
        let url = parse("postgres://app@db/app?sslmode=require");
        assert_eq!(url.tls_mode(), TlsMode::Require);
        assert_eq!(url.driver_config().get_ssl_mode(), SslMode::Require);
    }

    #[test]
    fn password_override_replaces_the_url_password() {
        let url = DatabaseUrl::parse(
            "postgres://app:old@db/app",
            Some(SecretString::from("new".to_owned())),
        )
        .unwrap();
        assert_eq!(url.driver_config().get_password(), Some(&b"new"[..]));
    }

    #[test]
    fn unknown_sslmode_and_other_schemes_are_rejected() {
        assert!(DatabaseUrl::parse("postgres://db/app?sslmode=always", None).is_err());
        assert!(DatabaseUrl::parse("mysql://db/app", None).is_err());
        assert!(DatabaseUrl::parse("db:5432", None).is_err());
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let url = parse("postgres://app:hunter2@db:6543/app");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.to_string(), "postgres://app@db:6543/app");
    }
}
