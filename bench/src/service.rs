//! The release binary as a process: start-up timing and memory from /proc.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub const SECRET: &str = "benchmark-secret-not-for-production-0123456789";

pub struct Service {
    child: Child,
    pub base: String,
    /// From spawning the process to the first 200 on /api/health.
    pub time_to_first_200: Duration,
}

impl Service {
    /// Starts `binary` against `database_url` (with `settings` on top of the defaults) and polls
    /// /api/health on fresh connections until it answers 200.
    pub fn start(binary: &Path, database_url: &str, settings: &[(&str, &str)]) -> Result<Service> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let child = Command::new(binary)
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("PORT", port.to_string())
            .env("LOG_LEVEL", "info")
            .env("POD_NAME", "bench")
            // Settings to try (DB_READ_CONNECTIONS=4 make bench, say) reach the service.
            .envs(
                std::env::vars()
                    .filter(|(name, _)| name.starts_with("DB_") || name.starts_with("HTTP_")),
            )
            .envs(settings.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut service = Service {
            child,
            base,
            time_to_first_200: Duration::ZERO,
        };
        let deadline = started + Duration::from_secs(30);
        loop {
            if health_ok(port) {
                service.time_to_first_200 = started.elapsed();
                return Ok(service);
            }
            if let Some(status) = service.child.try_wait()? {
                bail!("the service exited during start-up: {status}");
            }
            if Instant::now() > deadline {
                bail!("the service did not answer /api/health with 200 within 30 s");
            }
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// (current, peak) resident memory in bytes: VmRSS and VmHWM.
    pub fn memory(&self) -> Result<(u64, u64)> {
        memory_of(self.pid())
    }

    /// CPU time the process has used so far, in user and in kernel mode.
    pub fn cpu(&self) -> Result<CpuTime> {
        cpu_of(self.pid())
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn memory_of(pid: u32) -> Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> Result<u64> {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .with_context(|| format!("{name} in /proc/{pid}/status"))?;
        let kib: u64 = line.split_whitespace().nth(1).context("value")?.parse()?;
        Ok(kib * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// One plain HTTP/1.1 GET on a new connection: the cheapest possible probe, so the measured
/// start-up time is the service's, not a client library's.
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// CPU time of a process, from /proc.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTime {
    pub user: Duration,
    pub system: Duration,
}

impl std::ops::Sub for CpuTime {
    type Output = CpuTime;

    fn sub(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

pub fn cpu_of(pid: u32) -> Result<CpuTime> {
    parse_cpu(
        &std::fs::read_to_string(format!("/proc/{pid}/stat"))?,
        clock_ticks(),
    )
}

/// utime and stime, the 14th and 15th fields of /proc/<pid>/stat, in clock ticks; the command
/// name (field 2) may contain spaces, so fields are counted after its closing parenthesis.
fn parse_cpu(stat: &str, ticks_per_second: u64) -> Result<CpuTime> {
    let after_name = stat
        .rsplit_once(')')
        .context("no command name in /proc stat")?
        .1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> Result<Duration> {
        let value: u64 = fields
            .get(index)
            .context("short /proc stat line")?
            .parse()?;
        Ok(Duration::from_secs_f64(
            value as f64 / ticks_per_second as f64,
        ))
    };
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Ok(CpuTime {
        user: ticks(11)?,
        system: ticks(12)?,
    })
}

/// The kernel's clock ticks per second (almost always 100).
fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

#[cfg(test)]
mod cpu_tests {
    use super::*;

    #[test]
    fn user_and_system_time_are_read_after_the_command_name() {
        let stat =
            "4242 (back end) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 9 0 100 0 0";
        let cpu = parse_cpu(stat, 100).unwrap();
        assert_eq!(cpu.user, Duration::from_millis(2500));
        assert_eq!(cpu.system, Duration::from_millis(750));
    }
}
