//! The API key: read from `ACQUIRE_API_KEY` or `--api-key-file`, held where it cannot be
//! printed.
//!
//! The constraint: the key can block every customer of an account, so it never appears in
//! output, logs, the ledger, error messages or `Debug`. It lives in a `SecretString` and is
//! only exposed to build the (sensitive-marked) Authorization header.

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// Name of the environment variable holding the key.
pub const KEY_ENV: &str = "ACQUIRE_API_KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "no API key: set the environment variable {KEY_ENV} or pass --api-key-file PATH \
         (or try --sandbox to run against the built-in imitation)"
    )]
    Missing,
    #[error("cannot read the API key file {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the API key from {origin} is empty: put the key in it")]
    Empty { origin: String },
    #[error(
        "the API key from {origin} contains whitespace or control characters inside it: \
         check that it holds exactly the key (one line)"
    )]
    Malformed { origin: String },
}

/// The key. `Debug` and `Display` never show it.
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Checks and wraps a key; `origin` says where it came from, for error messages.
    pub fn new(raw: &str, origin: &str) -> Result<ApiKey, KeyError> {
        // A file usually ends in a newline: that is not part of the key.
        let key = raw.trim_end_matches(['\n', '\r']);
        if key.trim().is_empty() {
            return Err(KeyError::Empty {
                origin: origin.into(),
            });
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(KeyError::Malformed {
                origin: origin.into(),
            });
        }
        Ok(ApiKey(SecretString::from(key.to_owned())))
    }

    /// Reads the key from `--api-key-file` if given, else from the environment.
    pub fn load(file: Option<&Path>) -> Result<ApiKey, KeyError> {
        match file {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| KeyError::Unreadable {
                        path: path.into(),
                        source,
                    })?;
                warn_if_readable_by_others(path);
                ApiKey::new(&text, &path.display().to_string())
            }
            None => match std::env::var(KEY_ENV) {
                Ok(text) => ApiKey::new(&text, KEY_ENV),
                Err(_) => Err(KeyError::Missing),
            },
        }
    }

    /// The key itself; only for building the Authorization header.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// As ssh does: a key file others can read deserves a warning (not a refusal).
fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "The API key file is readable by other users; restrict it with chmod 600"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("sk-canary-123\n", "test").unwrap();
        assert_eq!(key.expose(), "sk-canary-123");
        assert!(!format!("{key:?}").contains("canary"));
    }

    #[test]
    fn refuses_empty_and_malformed_keys_without_echoing_them() {
        assert!(matches!(
            ApiKey::new("\n", "f"),
            Err(KeyError::Empty { .. })
        ));
        assert!(matches!(
            ApiKey::new("  ", "f"),
            Err(KeyError::Empty { .. })
        ));
        for bad in [
            "sk canary",
            "sk\tcanary",
            "sk\u{7}canary",
            "sk-canary\nsecond",
        ] {
            let err = ApiKey::new(bad, "f").unwrap_err();
            assert!(matches!(err, KeyError::Malformed { .. }), "{bad:?}");
            assert!(!err.to_string().contains("canary"));
        }
    }

    #[test]
    fn reads_a_key_file_and_trims_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-file-key\r\n").unwrap();
        assert_eq!(ApiKey::load(Some(&path)).unwrap().expose(), "sk-file-key");
        let missing = ApiKey::load(Some(&dir.path().join("nope"))).unwrap_err();
        assert!(missing.to_string().contains("nope"));
    }
}
