//! The minimal Flask implementation of contract v1 shown in the README passes the kit, import
//! included: the contract is implementable in a few lines of another language.

use contract_spec::conformance::{self, Options, Outcome};
use e2e::apps::RunningApp;

#[tokio::test]
async fn the_flask_example_passes_the_kit() {
    let has_flask =
        std::process::Command::new("python3").args(["-c", "import flask"]).output().is_ok_and(|o| o.status.success());
    if !has_flask {
        eprintln!("SKIPPED the_flask_example_passes_the_kit: python3 with flask is not installed (pip install flask)");
        return;
    }
    let data = std::env::temp_dir().join(format!("e2e-flask-{}", e2e::harness::unique())).join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("notes.txt"), "remember the milk\n").unwrap();
    let script = e2e::binaries::workspace_root().join("contract-spec/examples/flask/app.py");
    let mut cmd = tokio::process::Command::new("python3");
    cmd.arg(script).arg("127.0.0.1:0").env("DATA_DIR", &data);
    let app = RunningApp::spawn(cmd, "flask").await;
    let report = conformance::check(&app.client(), &Options { with_import: true, ..Options::default() }).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("import round trip").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
    assert_eq!(std::fs::read_to_string(data.join("notes.txt")).unwrap(), "remember the milk\n");
    std::fs::remove_dir_all(data.parent().unwrap()).unwrap();
}
