//! The soak example (`examples/soak`) run as a user runs it, in a short configuration: 100
//! clients for 10 s against a freshly started chat-server, with churn. It must PASS: nothing
//! lost, duplicated or reordered, and it must really have sent, delivered and reconnected.
//!
//! The example is built (if needed) with the same profile and target directory as this test,
//! since `cargo test --test soak` alone does not build examples.

mod example_build;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use example_build::{build_examples, example_path};
use tokio::process::Command;

/// Kill the soak if it has not finished by then (it bounds itself to its run + 30 s).
const TIMEOUT: Duration = Duration::from_secs(90);

/// `target/<profile>/examples/soak`, built first.
fn soak_example() -> PathBuf {
    example_path(&build_examples(&["soak"]), "soak")
}

/// The `key=value` fields of the verdict line.
fn fields(verdict: &str) -> HashMap<&str, &str> {
    verdict
        .split_whitespace()
        .filter_map(|word| word.split_once('='))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_soak_with_churn_passes() {
    let soak = tokio::task::spawn_blocking(soak_example).await.unwrap();
    let server: &Path = env!("CARGO_BIN_EXE_chat-server").as_ref();
    let child = Command::new(soak)
        .args([
            "--clients",
            "100",
            "--seconds",
            "10",
            "--rate",
            "100",
            "--server-bin",
        ])
        .arg(server)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the soak example starts");
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the soak did not finish within {TIMEOUT:?}"))
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        output.status.success(),
        "exit status {}\n{context}",
        output.status
    );

    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one verdict line\n{context}");
    let verdict = lines[0];
    assert!(verdict.starts_with("soak: PASS "), "{context}");
    let fields = fields(verdict);
    for zero in ["lost", "duplicated", "out_of_order"] {
        assert_eq!(fields.get(zero), Some(&"0"), "{zero}\n{context}");
    }
    let count = |name: &str| -> u64 {
        fields
            .get(name)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no {name}=N in the verdict\n{context}"))
    };
    assert!(count("sent") > 0, "{context}");
    assert!(count("delivered") > 0, "{context}");
    assert!(count("reconnects") > 0, "{context}");
}
