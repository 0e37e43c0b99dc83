use std::process::ExitCode;

use backend::{
    App, Config, Stopped, TokenError, check_health, describe_identity, init_logging,
    install_signal_handlers, log_panics, openapi_json, token,
};

const USAGE: &str = "\
usage: backend                     serve the API (configured by environment variables; see README)
       backend healthcheck <url>   exit 0 if <url> answers HTTP 200 within 5 s
       backend openapi             print the OpenAPI document
       backend identity            print this process's uid, gid, privilege flags and capabilities
       backend token SUB [--ttl D] print a JWT for user SUB, valid for D (default 1h; 90s, 30m, 2d),
                                   signed with BETTER_AUTH_SECRET (and JWT_ISSUER, JWT_AUDIENCE)
       backend --version";

/// Exit status for a missing or invalid environment variable (sysexits' EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve(),
        ["healthcheck", url] => probe(url),
        ["openapi"] => {
            print!("{}", openapi_json());
            ExitCode::SUCCESS
        }
        ["identity"] => match describe_identity() {
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
            println!("backend {}", backend::VERSION);
            ExitCode::SUCCESS
        }
        ["--help" | "-h"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    // Dropped last, on every return below and when a panic unwinds main: the buffered log
    // lines are written out whichever way the process ends.
    let _log_writer = init_logging(config.log_level);
    log_panics();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        let stop = match install_signal_handlers() {
            Ok(stop) => stop,
            Err(error) => {
                tracing::error!(error = %error, "cannot install the signal handlers");
                return ExitCode::FAILURE;
            }
        };
        let mut stop = Box::pin(stop);
        let app = tokio::select! {
            built = App::build(config) => match built {
                Ok(app) => app,
                Err(error) => {
                    tracing::error!(error = %error, "start-up failed");
                    return ExitCode::FAILURE;
                }
            },
            () = &mut stop => {
                tracing::info!("stopped during start-up");
                return ExitCode::SUCCESS;
            }
        };
        match app.run_until(stop).await {
            Stopped::Gracefully => ExitCode::SUCCESS,
            Stopped::GracePeriodExceeded => ExitCode::FAILURE,
        }
    })
}

fn probe(url: &str) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match runtime.block_on(check_health(url)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            ExitCode::FAILURE
        }
    }
}

fn print_token(subject: &str, ttl: Option<&str>) -> ExitCode {
    match token(subject, ttl) {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            match error {
                TokenError::Config(_) => ExitCode::from(EXIT_CONFIG),
                TokenError::Usage(_) => ExitCode::from(2),
            }
        }
    }
}
