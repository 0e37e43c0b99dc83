//! Throwaway PostgreSQL servers from the local server binaries (Debian's postgresql-15).
//!
//! [`PgServer::start`] runs `initdb` and `postgres` in a temporary directory on a free port.
//! The server is stopped when the value is dropped, and the kernel stops it if the thread that
//! started it dies first (`PR_SET_PDEATHSIG`), so a crashed test leaves no server behind.
//! [`shared_admin_url`] gives every test in a binary one server to create fresh databases on;
//! set `TEST_DATABASE_URL` to use an existing server instead. [`PgServer::freeze`] makes a server
//! hang the way a stuck or partitioned database node does, for fault tests.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use anyhow::{Context, Result, anyhow, bail};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, User, geteuid};

/// How a throwaway server is tuned.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Durable commits (the server's defaults) instead of fast, unsafe ones. Benchmarks want
    /// this; functional tests don't.
    pub durable: bool,
    /// Extra `-c name=value` settings.
    pub settings: Vec<(String, String)>,
    /// Certificate and key: the server then accepts TLS connections.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The superuser's password: TCP connections must then give it (SCRAM), and [`PgServer::url`]
    /// carries it. Without one, every connection is trusted.
    pub password: Option<String>,
}

pub struct PgServer {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    options: PgOptions,
    owner: Option<(u32, u32)>,
    child: Option<Child>,
    /// Between [`PgServer::freeze`] and [`PgServer::thaw`].
    frozen: bool,
}

impl PgServer {
    /// Initialises and starts a server with default options.
    pub fn start() -> Result<PgServer> {
        PgServer::start_with(PgOptions::default())
    }

    pub fn start_with(options: PgOptions) -> Result<PgServer> {
        let bin_dir = find_bin_dir()?;
        let data_dir = fresh_data_dir()?;
        // Postgres refuses to run as root; CI runs as root, so hand the server to `postgres`.
        let owner = if geteuid().is_root() {
            Some(lookup_user("postgres").context(
                "running as root, and PostgreSQL refuses root: a 'postgres' user is needed (the postgresql package creates it)",
            )?)
        } else {
            None
        };
        if let Some((uid, gid)) = owner {
            chown(&data_dir, uid, gid)?;
            // The server reads its TLS key and certificate as its own user.
            for file in options.tls.iter().flat_map(|(cert, key)| [cert, key]) {
                chown(file, uid, gid)?;
            }
        }
        let mut initdb = Command::new(bin_dir.join("initdb"));
        initdb
            .arg("--pgdata")
            .arg(&data_dir)
            .args(["--username=postgres", "--encoding=UTF8", "--locale=C"])
            .arg("--no-sync")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        match &options.password {
            None => {
                initdb.arg("--auth=trust");
            }
            Some(password) => {
                // Outside the data directory: initdb wants that empty.
                let file = data_dir.with_extension("pwfile");
                fs::write(&file, password).context("writing the password file")?;
                if let Some((uid, gid)) = owner {
                    chown(&file, uid, gid)?;
                }
                initdb
                    .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                    .arg(format!("--pwfile={}", file.display()));
            }
        }
        run_as(&mut initdb, owner);
        let output = initdb.output().context("running initdb");
        let _ = fs::remove_file(data_dir.with_extension("pwfile"));
        let output = output?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let mut server = PgServer {
            bin_dir,
            data_dir,
            port: free_port()?,
            options,
            owner,
            child: None,
            frozen: false,
        };
        server.resume()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory of the server's binaries, for tools of the same version (pgbench).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// A URL for `database` as the superuser (with the password, if the server has one).
    pub fn url(&self, database: &str) -> String {
        let password = self
            .options
            .password
            .as_ref()
            .map(|password| format!(":{password}"))
            .unwrap_or_default();
        format!(
            "postgres://postgres{password}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// Stops the server with a fast shutdown: clients are disconnected at once.
    pub fn stop(&mut self) -> Result<()> {
        if self.frozen {
            self.thaw()?;
        }
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = kill(pid_of(&child), Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "postgres on port {} did not stop within 20 s; killed",
                    self.port
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port and data directory.
    pub fn resume(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Ok(());
        }
        let mut command = Command::new(self.bin_dir.join("postgres"));
        command
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-p", &self.port.to_string()])
            .arg("-k")
            .arg(&self.data_dir)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=300",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if !self.options.durable {
            command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        if let Some((cert, key)) = &self.options.tls {
            command.args([
                "-c".to_owned(),
                "ssl=on".to_owned(),
                "-c".to_owned(),
                format!("ssl_cert_file={}", cert.display()),
                "-c".to_owned(),
                format!("ssl_key_file={}", key.display()),
            ]);
        }
        for (name, value) in &self.options.settings {
            command.args(["-c", &format!("{name}={value}")]);
        }
        run_as(&mut command, self.owner);
        // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
        // calls are allowed; it makes one prctl(2) system call and touches no memory of the
        // parent (no allocation, no locks).
        unsafe {
            command.pre_exec(|| {
                // Stop with the thread that started us, even if it never gets to drop us.
                nix::sys::prctl::set_pdeathsig(Signal::SIGQUIT).map_err(std::io::Error::from)
            });
        }
        let child = command.spawn().context("starting postgres")?;
        self.child = Some(child);
        self.wait_until_accepting(Duration::from_secs(30))
    }

    fn wait_until_accepting(&mut self, within: Duration) -> Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let ready = Command::new(self.bin_dir.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-q"])
                .status()
                .is_ok_and(|status| status.success());
            if ready {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                self.child = None;
                bail!(
                    "postgres exited during start-up ({status}); data dir {}",
                    self.data_dir.display()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "postgres on port {} not accepting connections after {within:?}",
                    self.port
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl PgServer {
    /// Freezes the server the way a hung or stopped database node looks to its clients: SIGSTOP
    /// to the postmaster (first, so that it starts no new backend), then to every process it has
    /// started (backends, background workers). Open connections stay open and the kernel still
    /// accepts new ones into the listen backlog, but nothing answers until [`PgServer::thaw`].
    pub fn freeze(&mut self) -> Result<()> {
        let postmaster = self.postmaster()?;
        signal(postmaster, Signal::SIGSTOP)?;
        self.frozen = true;
        let mut stopped = vec![postmaster];
        for child in children_of(postmaster)? {
            // A backend that exited meanwhile is no error.
            if signal(child, Signal::SIGSTOP).is_ok() {
                stopped.push(child);
            }
        }
        for pid in stopped {
            wait_for_state(pid, |state| state == 'T', "stopped")?;
        }
        Ok(())
    }

    /// Lets a frozen server go on: its processes pick up where they were stopped.
    pub fn thaw(&mut self) -> Result<()> {
        let postmaster = self.postmaster()?;
        for child in children_of(postmaster)? {
            let _ = signal(child, Signal::SIGCONT);
        }
        signal(postmaster, Signal::SIGCONT)?;
        self.frozen = false;
        Ok(())
    }

    fn postmaster(&self) -> Result<Pid> {
        self.child
            .as_ref()
            .map(pid_of)
            .with_context(|| format!("postgres on port {} is not running", self.port))
    }
}

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(child.id() as i32)
}

fn signal(pid: Pid, signal: Signal) -> Result<()> {
    kill(pid, signal).with_context(|| format!("sending {signal} to process {pid}"))
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses, so the split is at the last `)`): state, parent pid, ...
fn proc_stat(pid: Pid) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The processes whose parent is `parent`, from `/proc`.
fn children_of(parent: Pid) -> Result<Vec<Pid>> {
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").context("reading /proc")?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let pid = Pid::from_raw(pid);
        if proc_stat(pid)
            .and_then(|fields| fields.get(1)?.parse().ok())
            .is_some_and(|ppid: i32| ppid == parent.as_raw())
        {
            children.push(pid);
        }
    }
    Ok(children)
}

/// Waits until the state letter of `pid` in `/proc` satisfies `wanted` (or the process is gone).
fn wait_for_state(pid: Pid, wanted: impl Fn(char) -> bool, what: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = proc_stat(pid).and_then(|fields| fields.first()?.chars().next());
        match state {
            None => return Ok(()),
            Some(state) if wanted(state) => return Ok(()),
            Some(state) if Instant::now() > deadline => {
                bail!("process {pid} not {what} within 5 s (state {state})")
            }
            Some(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = fs::remove_dir_all(&self.data_dir);
    }
}

/// The admin URL of the server shared by this test binary: `TEST_DATABASE_URL` if set,
/// otherwise a throwaway server started on first use and stopped when the process exits.
pub fn shared_admin_url() -> Result<String> {
    static SHARED: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            if let Ok(url) = env::var("TEST_DATABASE_URL") {
                return Ok(url);
            }
            // The server belongs to a thread that lives as long as the process, so it is not
            // stopped when the test that happened to start it finishes.
            let (sender, receiver) = mpsc::channel();
            thread::Builder::new()
                .name("shared-postgres".into())
                .spawn(move || match PgServer::start() {
                    Ok(server) => {
                        let _ = sender.send(Ok(server.url("postgres")));
                        loop {
                            thread::park();
                        }
                    }
                    Err(error) => {
                        let _ = sender.send(Err(format!("{error:#}")));
                    }
                })
                .map_err(|error| error.to_string())?;
            receiver
                .recv()
                .map_err(|error| error.to_string())
                .and_then(|result| result)
        })
        .clone()
        .map_err(|error| anyhow!("no PostgreSQL for tests: {error}. Install postgresql-15 (ci/tools.sh does) or set TEST_DATABASE_URL."))
}

/// Creates an empty database on the server at `admin_url` and returns its URL.
pub async fn create_database(admin_url: &str) -> Result<String> {
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connecting to {}", redact(admin_url)))?;
    let connection = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .context("CREATE DATABASE")?;
    drop(client);
    let _ = connection.await;
    Ok(replace_database(admin_url, &name))
}

/// A fresh database on the shared server.
pub async fn fresh_database() -> Result<String> {
    create_database(&shared_admin_url()?).await
}

/// `url` with its path (the database name) replaced.
pub fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_end = base
        .find("://")
        .map(|scheme| scheme + 3)
        .and_then(|start| base[start..].find('/').map(|slash| start + slash))
        .unwrap_or(base.len());
    let mut result = format!("{}/{database}", &base[..authority_end]);
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The version of a Debian `/usr/lib/postgresql/<version>/bin`, compared as numbers (9.6 is
/// older than 15); a directory named otherwise sorts before every version.
fn version_of(bin: &Path) -> Vec<u32> {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|name| name.to_str())
        .and_then(|name| name.split('.').map(|part| part.parse().ok()).collect())
        .unwrap_or_default()
}

fn find_bin_dir() -> Result<PathBuf> {
    if let Ok(dir) = env::var("PG_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
                .filter(|bin| bin.join("postgres").exists())
                .collect()
        })
        .unwrap_or_default();
    // The newest version first.
    candidates.sort_by_key(|bin| std::cmp::Reverse(version_of(bin)));
    if let Some(dir) = candidates.into_iter().next() {
        return Ok(dir);
    }
    if let Some(dir) = env::var_os("PATH").and_then(|paths| {
        env::split_paths(&paths)
            .find(|dir| dir.join("postgres").exists() && dir.join("initdb").exists())
    }) {
        return Ok(dir);
    }
    bail!(
        "PostgreSQL server binaries (initdb, postgres) not found; install postgresql-15 or set PG_BIN_DIR"
    )
}

fn fresh_data_dir() -> Result<PathBuf> {
    let root = env::temp_dir().join("testkit-postgres");
    fs::create_dir_all(&root)?;
    remove_abandoned(&root);
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = root.join(format!(
        "{}-{n}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    fs::create_dir(&dir)?;
    Ok(dir)
}

/// Data directories of test processes that no longer run (their servers died with them).
fn remove_abandoned(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok());
        // Signal 0 checks that the process exists without sending anything.
        if let Some(pid) = pid
            && kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn run_as(command: &mut Command, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
}

/// The uid and gid of user `name` (getpwnam_r: other threads may look users up too).
fn lookup_user(name: &str) -> Result<(u32, u32)> {
    let user = User::from_name(name)
        .with_context(|| format!("looking up user {name:?}"))?
        .with_context(|| format!("user {name:?} does not exist"))?;
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .with_context(|| format!("chown {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use tokio::time::timeout;
    use tokio_postgres::NoTls;
    use tokio_postgres::error::SqlState;

    use super::{PgOptions, PgServer, replace_database, version_of};

    #[tokio::test]
    async fn a_frozen_server_answers_nothing_until_thawed() {
        let mut server = PgServer::start().unwrap();
        let url = server.url("postgres");
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(connection);

        server.freeze().unwrap();
        let query = client.simple_query("SELECT 1");
        tokio::pin!(query);
        let waited = Duration::from_millis(500);
        assert!(
            timeout(waited, &mut query).await.is_err(),
            "a query was answered by a frozen server"
        );
        assert!(
            timeout(waited, tokio_postgres::connect(&url, NoTls))
                .await
                .is_err(),
            "a frozen server completed a new connection"
        );

        server.thaw().unwrap();
        timeout(Duration::from_secs(5), query)
            .await
            .expect("the query is answered after the thaw")
            .unwrap();
    }

    #[tokio::test]
    async fn a_server_with_a_password_refuses_a_wrong_one() {
        let server = PgServer::start_with(PgOptions {
            password: Some("right-password".into()),
            ..PgOptions::default()
        })
        .unwrap();
        let url = server.url("postgres");
        assert!(url.contains(":right-password@"), "{url}");
        // Authentication is part of connecting.
        let (_client, _connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .expect("the right password is accepted");
        let wrong = url.replace(":right-password@", ":wrong-password@");
        let error = tokio_postgres::connect(&wrong, NoTls).await.err();
        assert_eq!(
            error.as_ref().and_then(|error| error.code()),
            Some(&SqlState::INVALID_PASSWORD),
            "{error:?}"
        );
    }

    #[test]
    fn the_newest_version_is_found_by_number_not_text() {
        let mut bins: Vec<PathBuf> = ["9.6", "15", "10", "main"]
            .iter()
            .map(|version| Path::new("/usr/lib/postgresql").join(version).join("bin"))
            .collect();
        bins.sort_by_key(|bin| std::cmp::Reverse(version_of(bin)));
        let order: Vec<&str> = bins
            .iter()
            .map(|bin| bin.parent().unwrap().file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(order, ["15", "10", "9.6", "main"]);
    }

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            replace_database("postgres://u@h:5/postgres?sslmode=disable", "t1"),
            "postgres://u@h:5/t1?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u:p@h", "t2"),
            "postgres://u:p@h/t2"
        );
    }
}
