//! Locates (building once if needed) the binaries of the workspace: `orchestrator`, the
//! `client-sdk` examples and its `backup-agent`. Cargo sets `CARGO_BIN_EXE_*` only for a package's own tests, so this
//! crate builds them itself, in the same profile as the running test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace").to_owned()
}

/// `target/<profile>` of the running binary: tests live in `target/<profile>/deps/`, binaries
/// such as `bench` in `target/<profile>/`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the running binary has a path");
    let dir = exe.parent().expect("a binary lives in a folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("target/<profile>").to_owned()
    } else {
        dir.to_owned()
    }
}

fn build_once() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "-p",
            "client-sdk",
            "--examples",
            "-p",
            "orchestrator",
            "--bins",
        ]);
        if profile_dir().file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        // `cargo test` gives its tests the package's CARGO_MANIFEST_DIR; ring's build script
        // reruns when that variable changes, so passing it on would rebuild ring and everything
        // above it here, and again at the next `cargo test`.
        cmd.env_remove("CARGO_MANIFEST_DIR");
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the workspace binaries failed");
    });
}

/// Path of a `client-sdk` example binary.
pub fn example(name: &str) -> PathBuf {
    build_once();
    profile_dir().join("examples").join(name)
}

/// Path of the `backup-agent` binary of `client-sdk`.
pub fn agent() -> PathBuf {
    build_once();
    profile_dir().join("backup-agent")
}

/// Path of the `orchestrator` binary.
pub fn orchestrator() -> PathBuf {
    build_once();
    profile_dir().join("orchestrator")
}
