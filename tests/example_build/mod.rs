//! Building example binaries from a test: `cargo test --test X` alone does not build examples,
//! so a test that runs one as a process builds it first, with the same profile and target
//! directory as the test itself.

use std::path::{Path, PathBuf};

/// Builds the examples `names` and returns the directory holding them:
/// `target/<profile>/examples`, next to `deps/` where this test binary lives.
///
/// # Panics
/// When cargo cannot be run or the build fails.
pub fn build_examples(names: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let profile_dir = deps.parent().unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let mut build = std::process::Command::new(env!("CARGO"));
    build.arg("build");
    for name in names {
        build.args(["--example", name]);
    }
    build
        .arg("--target-dir")
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "building the examples {names:?} failed");
    profile_dir.join("examples")
}

/// The path of example `name` in `dir`, which must exist.
pub fn example_path(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} missing", path.display());
    path
}
