//! What the unit tests of several layers check alike, written once (compiled for tests
//! only; imports nothing of the crate, so any layer may use it).

use std::fmt::Debug;
use std::path::Path;

/// Each input of `cases` is refused by `parse`, with a reason that contains its text.
pub fn assert_refused<T: Debug>(parse: impl Fn(&str) -> Result<T, String>, cases: &[(&str, &str)]) {
    for (bad, why) in cases {
        match parse(bad) {
            Ok(value) => panic!("{bad:?} was taken as {value:?}"),
            Err(error) => assert!(error.contains(why), "{bad:?}: {error}"),
        }
    }
}

/// `format` writes each input of `cases` as its text.
pub fn assert_writes<I: Copy + Debug>(format: impl Fn(I) -> String, cases: &[(I, &str)]) {
    for (input, text) in cases {
        assert_eq!(format(*input), *text, "{input:?}");
    }
}

/// The file at `path` is readable and writable by its owner only (0600).
pub fn assert_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
}

/// A file `name` holding `contents`, in a new temporary directory that lasts as long as
/// the returned guard.
pub fn temp_file(
    name: &str,
    contents: impl AsRef<[u8]>,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("the temporary file is written");
    (dir, path)
}
