//! The conformance kit: checks any app, in any language, against contract v1.
//!
//! Each check yields one [`Finding`]; a failure says what to fix. The kit never changes the app's
//! data unless [`Options::with_import`] is set, because an import overwrites what the app holds.
//! Every call has a timeout, so a stalled app fails a check instead of hanging the kit.

mod auth;
mod export;
mod import;
mod verify;

use std::fmt;
use std::time::Duration;

use crate::client::AppClient;

/// What the kit may do, and how patient it is.
#[derive(Debug, Clone)]
pub struct Options {
    /// Also run an import round trip (export, then import it back). Overwrites the app's data.
    pub with_import: bool,
    /// An export that takes at least this long is judged on whether it streams; a quicker one is
    /// too quick to tell.
    pub streaming_min_duration: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { with_import: false, streaming_min_duration: Duration::from_millis(300) }
    }
}

/// The result of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The app does what the contract says.
    Pass,
    /// The app breaks the contract.
    Fail,
    /// The check could not be made (and says why); it does not fail the run.
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What was checked, e.g. "export[full] ends cleanly".
    pub check: String,
    /// Whether it passed.
    pub outcome: Outcome,
    /// What was seen; for a failure, what to fix.
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        write!(f, "{tag}  {}: {}", self.check, self.detail)
    }
}

/// Every finding of one run of the kit.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The findings, in the order the checks ran.
    pub findings: Vec<Finding>,
}

impl Report {
    fn pass(&mut self, check: impl Into<String>, detail: impl Into<String>) {
        self.push(check, Outcome::Pass, detail);
    }

    fn fail(&mut self, check: impl Into<String>, detail: impl Into<String>) {
        self.push(check, Outcome::Fail, detail);
    }

    fn skip(&mut self, check: impl Into<String>, detail: impl Into<String>) {
        self.push(check, Outcome::Skip, detail);
    }

    fn push(&mut self, check: impl Into<String>, outcome: Outcome, detail: impl Into<String>) {
        self.findings.push(Finding { check: check.into(), outcome, detail: detail.into() });
    }

    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.count(Outcome::Fail) == 0
    }

    /// How many findings had this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.findings.iter().filter(|f| f.outcome == outcome).count()
    }

    /// The failed findings.
    pub fn failures(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.outcome == Outcome::Fail)
    }

    /// The finding of a check, by its name.
    pub fn get(&self, check: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.check == check)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            writeln!(f, "{finding}")?;
        }
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip)
        )
    }
}

/// Runs every check against the app behind `client`.
pub async fn check(client: &AppClient, options: &Options) -> Report {
    let mut report = Report::default();
    auth::check(client, &mut report).await;
    let caps = match client.capabilities().await {
        Ok(caps) => {
            let names: Vec<&str> = caps.types.iter().map(|t| t.name.as_str()).collect();
            report.pass(
                "capabilities",
                format!("contract v1, app {:?}, types [{}], restore {}", caps.app, names.join(", "), caps.restore),
            );
            caps
        }
        Err(e) => {
            report.fail("capabilities", format!("{e}"));
            report.skip("export", "needs valid capabilities first");
            return report;
        }
    };
    for backup_type in &caps.types {
        export::check_type(client, backup_type, options, &mut report).await;
    }
    for backup_type in &caps.types {
        verify::check_type(client, backup_type, &mut report).await;
    }
    export::check_unknown_type(client, &mut report).await;
    export::check_concurrent(client, &caps.types[0], &mut report).await;
    import::check(client, &caps, options, &mut report).await;
    report
}
