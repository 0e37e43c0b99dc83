use std::process::ExitCode;

use backend::{App, Config, Stopped, healthcheck, identity, openapi, shutdown, telemetry};

const USAGE: &str = "\
usage: backend                     serve the API (configured by environment variables; see README)
       backend healthcheck <url>   exit 0 if <url> answers HTTP 200 within 5 s
       backend openapi             print the OpenAPI document
       backend identity            print this process's uid, gid, privilege flags and capabilities
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
            print!("{}", openapi::openapi_json());
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
        ["--version" | "-V"] => {
            println!("backend {}", env!("CARGO_PKG_VERSION"));
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
    let _log_writer = telemetry::init(config.log_level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        let app = match App::build(config).await {
            Ok(app) => app,
            Err(error) => {
                tracing::error!(error = %error, "start-up failed");
                return ExitCode::FAILURE;
            }
        };
        match app.run_until(shutdown::signal_received()).await {
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
    match runtime.block_on(healthcheck::check(url)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("unhealthy: {error}");
            ExitCode::FAILURE
        }
    }
}
