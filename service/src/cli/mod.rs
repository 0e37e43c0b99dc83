//! The binary's commands besides serving: `healthcheck` (a probe for images without a shell or
//! curl), `identity` (what the kernel says of this process), `openapi` (the document), `token`
//! (a JWT the service accepts), `--version` and `--help`. `main.rs` serves; this answers the rest.

mod healthcheck;
mod identity;
mod token;

use std::process::ExitCode;

pub use self::healthcheck::check as check_health;

pub const USAGE: &str = "\
usage: backend                     serve the API (configured by environment variables; see README)
       backend healthcheck [URL]   exit 0 if URL answers HTTP 200 within 5 s; without it
                                   http://127.0.0.1:$PORT/api/health (a PATH: that path)
       backend openapi             print the OpenAPI document
       backend identity            print this process's uid, gid, privilege flags and capabilities
       backend token SUB [--ttl D] print a JWT for user SUB, valid for D (default 1h; 90s, 30m, 2d),
                                   signed with BETTER_AUTH_SECRET (and JWT_ISSUER, JWT_AUDIENCE)
       backend --version";

/// Exit status for a missing or invalid environment variable (sysexits' EX_CONFIG).
pub const EXIT_CONFIG: u8 = 78;
/// Exit status for wrong arguments.
const EXIT_USAGE: u8 = 2;

/// Runs the command `args` names (the arguments after the program's name).
pub fn run(args: &[&str]) -> ExitCode {
    match args {
        ["healthcheck"] => probe(None),
        ["healthcheck", target] => probe(Some(target)),
        ["openapi"] => {
            print!("{}", crate::http::openapi_json());
            ExitCode::SUCCESS
        }
        ["identity"] => match identity::describe() {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{error}");
                ExitCode::FAILURE
            }
        },
        ["token", subject] => print_token(subject, None),
        ["token", subject, "--ttl", ttl] => print_token(subject, Some(ttl)),
        ["--version" | "-V"] => {
            println!("backend {}", crate::VERSION);
            ExitCode::SUCCESS
        }
        ["--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Exit 0 when healthy, 1 otherwise (Docker reserves 2 for HEALTHCHECK commands).
fn probe(target: Option<&str>) -> ExitCode {
    let url = match healthcheck::url(target, crate::config::port_from_env) {
        Ok(url) => url,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match runtime.block_on(check_health(&url)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_token(subject: &str, ttl: Option<&str>) -> ExitCode {
    match token::token(subject, ttl) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            match error {
                token::TokenError::Config(_) => ExitCode::from(EXIT_CONFIG),
                token::TokenError::Usage(_) => ExitCode::from(EXIT_USAGE),
            }
        }
    }
}
