//! `backend`: serves the API (configuration -> logging -> signals -> [`App`]: database, routes,
//! server), or runs one of its other commands (`backend::cli`).

use std::process::ExitCode;

use backend::{App, Config, Stopped, cli, init_logging, install_signal_handlers, log_panics};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["serve"] => serve(),
        command => cli::run(command),
    }
}

fn serve() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(cli::EXIT_CONFIG);
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
            Stopped::GracePeriodExceeded | Stopped::ServerFailed => ExitCode::FAILURE,
        }
    })
}
