//! The conformance kit finds each deliberate fault, and only that one.

use contract_spec::conformance::{self, Options, Outcome, Report};
use e2e::apps::{TOKEN, client};
use e2e::broken::{self, Fault};

async fn check(fault: Fault) -> Report {
    let app = broken::spawn(fault, TOKEN).await;
    conformance::check(&client(&app.url, TOKEN), &Options::default()).await
}

fn assert_fails(report: &Report, check: &str, detail: &str) {
    let finding = report.get(check).unwrap_or_else(|| panic!("no finding {check:?} in\n{report}"));
    assert_eq!(finding.outcome, Outcome::Fail, "{check} should fail:\n{report}");
    assert!(finding.detail.contains(detail), "{check} should say {detail:?}:\n{report}");
    assert!(!report.passed());
}

#[tokio::test]
async fn a_conforming_app_passes_every_check() {
    let report = check(Fault::None).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.get("export[full] streams").map(|f| f.outcome), Some(Outcome::Pass), "{report}");
}

#[tokio::test]
async fn an_app_without_auth_fails_the_token_checks() {
    let report = check(Fault::NoAuth).await;
    assert_fails(&report, "GET /backup/capabilities without a token", "expected 401");
    assert_fails(&report, "POST /backup/export with a wrong token", "expected 401");
}

#[tokio::test]
async fn an_app_speaking_another_contract_version_fails_capabilities() {
    let report = check(Fault::WrongContract).await;
    assert_fails(&report, "capabilities", "only \"v1\" is supported");
}

#[tokio::test]
async fn malformed_capabilities_fail() {
    let report = check(Fault::MalformedCapabilities).await;
    assert_fails(&report, "capabilities", "missing field `media_type`");
}

#[tokio::test]
async fn an_export_that_dies_midstream_does_not_end_cleanly() {
    let report = check(Fault::DiesMidStream).await;
    assert_fails(&report, "export[full] ends cleanly", "cut off after");
}

#[tokio::test]
async fn a_lying_trailer_is_caught() {
    let report = check(Fault::LyingTrailer).await;
    assert_fails(&report, "export[full] matches its trailers and length", "trailer backup-sha256 says abab");
}

#[tokio::test]
async fn an_export_built_in_memory_before_sending_does_not_stream() {
    let report = check(Fault::BuffersEverything).await;
    assert_fails(&report, "export[full] streams", "builds the whole export before sending it");
}

#[tokio::test]
async fn a_close_delimited_export_is_refused() {
    let report = check(Fault::CloseDelimited).await;
    assert_fails(&report, "export[full] is framed", "neither Content-Length nor chunked");
}

#[tokio::test]
async fn an_empty_export_fails() {
    let report = check(Fault::EmptyBody).await;
    assert_fails(&report, "export[full] is not empty", "an empty export is a failed export");
}
