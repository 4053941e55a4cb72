//! `schedule`: 10,000 registered apps whose schedules all fire at the same second. Reports, per
//! fire, the time from the fire time until its job was queued (`queued_at - scheduled_for` of
//! the run record, p50/p99), and before the fire the CPU time `serve` spends per scheduler tick
//! while nothing is due (the whole process: scheduler, queue polling and heartbeats together).
//! The apps point at a closed port, so the runs that follow fail at once.

use std::time::Duration;

use e2e::harness::Harness;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::args::Args;
use crate::measure::{SERVE_DEFAULTS, cpu_time, emit, ms, percentile, table};
use crate::seed;

const TICK: Duration = Duration::from_millis(1000);

/// `queued_at - scheduled_for` of every run queued for the fire at `fire_ms`.
async fn lags(db: &DatabaseConnection, fire_ms: i64) -> Vec<Duration> {
    let sql = format!(
        "SELECT queued_at - scheduled_for AS lag FROM backup_runs WHERE trigger = 'schedule' AND scheduled_for = {fire_ms}"
    );
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("lags");
    let mut lags: Vec<Duration> =
        rows.iter().map(|r| Duration::from_millis(r.try_get::<i64>("", "lag").expect("lag").max(0) as u64)).collect();
    lags.sort();
    lags
}

pub(crate) async fn run(args: &Args) {
    let apps = args.apps(10_000, 100);
    let h = Harness::sqlite().await;
    h.add_app("app-00000", "http://127.0.0.1:9", &h.folder("schedule"), &["--no-check"]).await;
    let db = h.db().await;
    seed::apps(&db, apps - 1).await;
    // Far enough ahead to start serve and measure idle ticks first.
    let lead = Duration::from_secs(if args.smoke { 6 } else { 20 });
    let fire = jiff::Timestamp::now().checked_add(lead).expect("time").round(jiff::Unit::Second).expect("round");
    let at = fire.to_zoned(jiff::tz::TimeZone::UTC);
    seed::schedule_all(&db, &format!("{} {} {} * * *", at.second(), at.minute(), at.hour())).await;
    let mut served = h.serve(&SERVE_DEFAULTS).await;
    // The first ticks read every schedule; idle ticks come after.
    tokio::time::sleep(2 * TICK).await;
    let window = fire.duration_since(jiff::Timestamp::now()).unsigned_abs().saturating_sub(TICK);
    let before = cpu_time(served.pid);
    tokio::time::sleep(window).await;
    let idle_cpu = cpu_time(served.pid).saturating_sub(before);
    let ticks = (window.as_secs_f64() / TICK.as_secs_f64()).max(1.0);
    let per_tick = idle_cpu.div_f64(ticks);
    // Wait for every fire to be queued.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let lags = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let lags = lags(&db, fire.as_millisecond()).await;
        if lags.len() >= apps || tokio::time::Instant::now() > deadline {
            break lags;
        }
    };
    served.terminate().await;
    let (p50, p99) = (percentile(&lags, 0.5), percentile(&lags, 0.99));
    let max = lags.last().copied().unwrap_or_default();
    emit(serde_json::json!({
        "scenario": "schedule", "apps": apps, "queued": lags.len(), "tick_ms": TICK.as_millis() as u64,
        "fire_to_queued_p50_ms": ms(p50), "fire_to_queued_p99_ms": ms(p99), "fire_to_queued_max_ms": ms(max),
        "idle_cpu_ms_per_tick": ms(per_tick), "idle_window_s": window.as_secs_f64(),
    }));
    table(
        &format!("schedule: {apps} apps firing at the same second, SCHEDULER_TICK_MS={}", TICK.as_millis()),
        &["queued", "fire->queued p50 ms", "p99 ms", "max ms", "idle CPU ms/tick"],
        &[vec![
            format!("{}/{apps}", lags.len()),
            format!("{:.0}", ms(p50)),
            format!("{:.0}", ms(p99)),
            format!("{:.0}", ms(max)),
            format!("{:.2}", ms(per_tick)),
        ]],
    );
}
