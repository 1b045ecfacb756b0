//! Interrupts: the first SIGINT or SIGTERM stops the run gracefully (in-flight requests
//! finish and are recorded), a second SIGINT exits at once.

use tokio_util::sync::CancellationToken;

/// First SIGINT/SIGTERM cancels the returned token (finish in-flight work, record it,
/// exit 130); a second SIGINT exits at once.
pub fn watch_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let Ok(signal) = wait_for_signal().await else {
            return;
        };
        crate::exit::note_signal(signal);
        tracing::warn!(
            "Interrupted: finishing in-flight requests and recording them; press Ctrl-C again to exit at once"
        );
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            // Every ledger line already written is whole: each is one write.
            std::process::exit(crate::exit::ExitStatus::Interrupted.code());
        }
    });
    token
}

/// Waits for SIGINT or SIGTERM and says which (2 or 15).
async fn wait_for_signal() -> std::io::Result<i32> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map(|()| 2),
            _ = term.recv() => Ok(15),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| 2)
    }
}
