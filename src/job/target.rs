//! Where a sending command goes: the real target (account or base URL, with its key), or
//! the built-in imitation started in-process for `--sandbox`; and the ledger each uses by
//! default.

use anyhow::Context;

use crate::cli::ConnectionArgs;
use crate::config::{SANDBOX_TARGET, Target};
use crate::mock::{MockConfig, MockServer};
use crate::net::api_key::ApiKey;
use crate::net::endpoint;

/// Where a sending command goes: the real target, or the in-process imitation.
pub struct Connected {
    pub target: Target,
    /// Kept alive for the run with `--sandbox`.
    pub sandbox: Option<MockServer>,
}

impl Connected {
    /// Ends the command's use of the target: stops the sandbox imitation, if any.
    pub async fn close(self) {
        if let Some(server) = self.sandbox {
            server.shutdown().await;
        }
    }
}

/// Resolves the target from the options; with `--sandbox`, starts the imitation on an
/// ephemeral loopback port with a generated key.
pub async fn connect(args: &ConnectionArgs) -> anyhow::Result<Connected> {
    if !args.sandbox {
        return Ok(Connected {
            target: Target::from_args(args)?,
            sandbox: None,
        });
    }
    let key_text = format!("sandbox-{:032x}", rand::random::<u128>());
    let key = ApiKey::new(&key_text, "the sandbox")?;
    let server = MockServer::start(
        ([127, 0, 0, 1], 0).into(),
        MockConfig {
            key: key_text,
            record_ids: false,
            seeds: Vec::new(),
            // The block list is kept, so that `unblock` and `blocked` work in the sandbox.
            faults: crate::mock::Faults {
                block_list: crate::mock::BlockListOptions {
                    keep: true,
                    ..Default::default()
                },
                ..Default::default()
            },
        },
    )
    .await
    .context("cannot start the sandbox imitation on 127.0.0.1")?;
    let base = endpoint::check_base_url(&server.base_url())?;
    tracing::info!(url = %server.base_url(), "Sandbox: sending to the built-in imitation; no real contact is blocked. It starts empty each time: it holds none of the blocks of earlier sandbox runs");
    Ok(Connected {
        target: Target {
            url: endpoint::block_url(&base),
            key,
            name: SANDBOX_TARGET.to_owned(),
            ca_certs: Vec::new(),
        },
        sandbox: Some(server),
    })
}

/// The ledger name of the target the options point at, checking it and that a key is
/// there, without sending anything or starting the sandbox (for dry runs).
pub fn target_name(args: &ConnectionArgs) -> anyhow::Result<String> {
    if args.sandbox {
        return Ok(SANDBOX_TARGET.to_owned());
    }
    Ok(Target::from_args(args)?.name)
}

/// The default ledger: the sandbox keeps its own, so that its lines never sit in the
/// real one.
pub fn default_results(sandbox: bool) -> std::path::PathBuf {
    if sandbox {
        "blockade-sandbox.jsonl".into()
    } else {
        "blockade-results.jsonl".into()
    }
}
