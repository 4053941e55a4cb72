//! `orchestrator remote` against the Drive double: streaming with one chunk in memory, every
//! injected fault either recovered (same sha256) or failed clearly with no file and no open
//! session, both kinds of credentials, shared drives, paging, trash versus permanent delete.

use drive_double::{DriveDouble, Options, RateLimit};
use e2e::cli::{Input, Run, run};

const MIB: u64 = 1024 * 1024;
const CHUNK: u64 = 256 * 1024;

struct Setup {
    double: DriveDouble,
    credentials: std::path::PathBuf,
    folder: String,
}

impl Setup {
    /// A double with a shared drive the service account is a member of.
    async fn new(options: Options) -> Setup {
        let double = DriveDouble::start_with(options).await;
        let folder = double.create_shared_drive("Backups");
        let credentials = write_temp("sa.json", &double.service_account_json());
        Setup { double, credentials, folder }
    }

    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
        let mut env = vec![
            ("STORAGE", "gdrive".to_owned()),
            ("GDRIVE_CREDENTIALS", self.credentials.to_str().unwrap().to_owned()),
            ("GDRIVE_ENDPOINT", self.double.endpoint()),
            ("GDRIVE_TOKEN_URI", self.double.token_uri()),
            ("GDRIVE_CHUNK_SIZE", "1MiB".to_owned()),
            ("GDRIVE_RETRY_DELAY_MS", "5".to_owned()),
            ("GDRIVE_MAX_RETRIES", "4".to_owned()),
        ];
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k, (*v).to_owned()));
        }
        env
    }

    async fn run(&self, args: &[&str], extra: &[(&str, &str)], input: Input) -> Run {
        let env = self.env(extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run(args, &env, input).await
    }

    async fn put(&self, name: &str, size: u64, extra: &[(&str, &str)]) -> Run {
        self.run(&["remote", "put", &self.folder, name], extra, Input::Generated { size, seed: size ^ 0x5eed }).await
    }
}

fn write_temp(name: &str, content: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("e2e-{}-{name}", e2e::harness::unique()));
    std::fs::write(&path, content).unwrap();
    path
}

/// The upload succeeded and Drive holds exactly the input.
fn assert_stored(setup: &Setup, put: &Run) {
    put.assert_success();
    let id = put.field("id").expect("an id line");
    let file = setup.double.file(&id).expect("the file exists in the double");
    assert_eq!(file.sha256, put.input_sha256, "Drive's sha256 is the input's");
    assert_eq!(put.field("sha256").unwrap(), put.input_sha256);
    assert_eq!(setup.double.open_sessions(), 0);
}

/// The upload failed with `message`, and left no file and no open session.
fn assert_failed_cleanly(setup: &Setup, put: &Run, message: &str) {
    assert_failed_cleanly_in(setup, &setup.folder, 0, put, message);
}

/// The upload into `folder`, which held `before` items, failed with `message`, and left no new file and
/// no open session.
fn assert_failed_cleanly_in(setup: &Setup, folder: &str, before: usize, put: &Run, message: &str) {
    assert!(!put.status.success(), "the upload should fail:\n{}", put.stdout_text());
    assert!(put.stderr.contains(message), "stderr should say {message:?}:\n{}", put.stderr);
    assert_eq!(setup.double.files_in(folder).len(), before, "no file may appear");
    assert_eq!(setup.double.open_sessions(), 0, "no upload session may stay open");
}

/// Retry settings under which a refusal retried with backoff would take minutes (as with the
/// defaults): a test of "not retried" finishes in seconds only if nothing is retried.
const SLOW_RETRIES: [(&str, &str); 2] = [("GDRIVE_MAX_RETRIES", "8"), ("GDRIVE_RETRY_DELAY_MS", "1000")];

/// Runs `put` and returns it with how long it took.
async fn timed(put: impl std::future::Future<Output = Run>) -> (Run, std::time::Duration) {
    let started = std::time::Instant::now();
    let run = put.await;
    (run, started.elapsed())
}

#[tokio::test]
async fn streaming_256_mib_keeps_one_chunk_in_memory() {
    let setup = Setup::new(Options { hash_only: true, ..Options::default() }).await;
    let extra = [("GDRIVE_CHUNK_SIZE", "8MiB")];
    let small = setup.put("small.bin", 1, &extra).await;
    assert_stored(&setup, &small);
    let big = setup.put("big.bin", 256 * MIB, &extra).await;
    assert_stored(&setup, &big);
    assert_eq!(setup.double.max_upload_request_body(), 8 * MIB, "no request carried more than one chunk");
    let (baseline, peak) = (small.peak_rss_kib, big.peak_rss_kib);
    eprintln!("remote put peak RSS: {baseline} KiB for 1 byte, {peak} KiB for 256 MiB (8 MiB chunks)");
    assert!(
        peak <= baseline + 3 * 8 * 1024,
        "peak RSS {peak} KiB exceeds the baseline {baseline} KiB plus three chunks"
    );
}

#[tokio::test]
async fn a_stream_ending_on_a_chunk_boundary_and_an_empty_one_are_stored() {
    let setup = Setup::new(Options::default()).await;
    assert_stored(&setup, &setup.put("exact.bin", 4 * MIB, &[]).await);
    assert_stored(&setup, &setup.put("empty.bin", 0, &[]).await);
    assert_eq!(setup.double.files_in(&setup.folder).len(), 2);
}

/// The PUTs the writer sent to upload sessions.
fn session_puts(setup: &Setup) -> Vec<drive_double::RequestRecord> {
    setup.double.requests().into_iter().filter(|r| r.method == "PUT" && r.path == "/upload/drive/v3/files").collect()
}

#[tokio::test]
async fn an_export_of_an_exact_chunk_multiple_is_finished_by_an_empty_request_that_states_its_length() {
    // 512 MiB in 8 MiB chunks is the case from the field; 64 MiB is the same shape at a test's pace.
    let setup = Setup::new(Options { hash_only: true, ..Options::default() }).await;
    let put = setup.put("exact.bin", 64 * MIB, &[("GDRIVE_CHUNK_SIZE", "8MiB")]).await;
    assert_stored(&setup, &put);
    let puts = session_puts(&setup);
    let last = puts.last().expect("PUTs were sent");
    assert_eq!(last.content_range.as_deref(), Some("bytes */67108864"), "the upload ends with an empty request");
    assert_eq!(last.content_length.as_deref(), Some("0"), "Google answers 411 to an empty PUT without a length");
    assert_eq!(puts.len(), 9, "8 chunks and the empty final request");
}

#[tokio::test]
async fn two_chunks_answered_503_are_resumed_through_status_queries_that_state_their_length() {
    let setup = Setup::new(Options { hash_only: true, ..Options::default() }).await;
    setup.double.fail_next_chunks(2, 503);
    let put = setup.put("resumed.bin", 40 * MIB, &[("GDRIVE_CHUNK_SIZE", "8MiB")]).await;
    assert_stored(&setup, &put);
    let queries: Vec<_> =
        session_puts(&setup).into_iter().filter(|r| r.content_range.as_deref() == Some("bytes */*")).collect();
    assert_eq!(queries.len(), 2, "one status query after each failed chunk");
    assert!(queries.iter().all(|q| q.content_length.as_deref() == Some("0")), "{queries:?}");
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_to_the_same_sha256() {
    let setup = Setup::new(Options::default()).await;
    setup.double.fail_next_chunks(2, 503);
    assert_stored(&setup, &setup.put("a.bin", 5 * MIB + 17, &[]).await);
    setup.double.fail_next_chunks(1, 429);
    assert_stored(&setup, &setup.put("b.bin", 3 * MIB, &[]).await);
    setup.double.fail_next_chunks(1, 403);
    assert_stored(&setup, &setup.put("c.bin", 3 * MIB, &[]).await);
    setup.double.rate_limit_next(2, RateLimit::UserRateLimit);
    assert_stored(&setup, &setup.put("d.bin", 2 * MIB, &[]).await);
    setup.double.rate_limit_next(2, RateLimit::TooManyRequests);
    assert_stored(&setup, &setup.put("e.bin", 2 * MIB, &[]).await);
}

#[tokio::test]
async fn a_partial_acknowledgement_is_resent_from_where_drive_stopped() {
    let setup = Setup::new(Options::default()).await;
    setup.double.partial_ack_next_chunk(CHUNK);
    assert_stored(&setup, &setup.put("partial.bin", 3 * MIB + 5, &[]).await);
}

#[tokio::test]
async fn a_connection_dropped_mid_chunk_resumes() {
    let setup = Setup::new(Options::default()).await;
    setup.double.drop_connection_next_chunk();
    assert_stored(&setup, &setup.put("dropped.bin", 3 * MIB, &[]).await);
}

#[tokio::test]
async fn failures_beyond_the_retries_leave_no_file_and_no_session() {
    let setup = Setup::new(Options::default()).await;
    setup.double.fail_next_chunks(100, 500);
    let put = setup.put("doomed.bin", 3 * MIB, &[("GDRIVE_MAX_RETRIES", "2")]).await;
    assert_failed_cleanly(&setup, &put, "Drive failed on its side");
}

#[tokio::test]
async fn an_expired_session_fails_clearly() {
    let setup = Setup::new(Options::default()).await;
    setup.double.expire_sessions_after_chunks(1);
    let put = setup.put("expired.bin", 3 * MIB, &[]).await;
    assert_failed_cleanly(&setup, &put, "upload session expired");
}

#[tokio::test]
async fn the_daily_upload_limit_is_reported_at_once_with_advice() {
    let setup = Setup::new(Options::default()).await;
    setup.double.set_daily_upload_cap(MIB);
    let (put, took) = timed(setup.put("capped.bin", 3 * MIB, &SLOW_RETRIES)).await;
    assert_failed_cleanly(&setup, &put, "daily upload limit (750 GB per user per day");
    assert!(put.stderr.contains("once the limit resets"), "{}", put.stderr);
    assert!(!put.stderr.contains("asking Drive what it has"), "the cap is not retried:\n{}", put.stderr);
    assert!(took < std::time::Duration::from_secs(20), "reported at once, took {took:?}");
}

#[tokio::test]
async fn a_failed_close_cancels_its_upload_session() {
    let setup = Setup::new(Options::default()).await;
    // Smaller than a chunk: the only data request is the final one, sent by close().
    setup.double.fail_next_chunks(100, 500);
    let put = setup.put("closing.bin", 100_000, &[("GDRIVE_MAX_RETRIES", "2")]).await;
    assert_failed_cleanly(&setup, &put, "Drive failed on its side");
    assert!(setup.double.requests().iter().any(|r| r.method == "DELETE"), "the session was cancelled");
}

#[tokio::test]
async fn an_invalid_grant_mid_upload_fails_clearly_and_cancels_the_session() {
    let setup = Setup::new(Options::default()).await;
    setup.double.refuse_grants_after_chunks(1);
    let put = setup.put("revoked-key.bin", 3 * MIB, &[]).await;
    assert_failed_cleanly(&setup, &put, "Google refused the credentials (invalid_grant");
}

#[tokio::test]
async fn a_full_my_drive_is_reported_at_once_with_advice() {
    let setup = Setup::new(Options::default()).await;
    let folder = setup.double.create_folder("My backups");
    setup.double.set_storage_quota(&setup.double.user_email(), 2 * MIB);
    let user = write_temp("user.json", &setup.double.authorized_user_json());
    let mut extra = SLOW_RETRIES.to_vec();
    extra.push(("GDRIVE_CREDENTIALS", user.to_str().unwrap()));
    let input = Input::Generated { size: 3 * MIB, seed: 4 };
    let (put, took) = timed(setup.run(&["remote", "put", &folder, "big.bin"], &extra, input)).await;
    assert_failed_cleanly_in(&setup, &folder, 0, &put, "storage of the OAuth user is full: free space");
    assert!(put.stderr.contains("storageQuotaExceeded"), "{}", put.stderr);
    assert!(took < std::time::Duration::from_secs(20), "not retried, took {took:?}");
}

#[tokio::test]
async fn a_shared_drive_at_its_item_limit_is_reported_at_once_with_advice() {
    let setup = Setup::new(Options::default()).await;
    setup.double.add_file(&setup.folder, "old.bin", b"old", &[]);
    setup.double.set_shared_drive_item_limit(1);
    let (put, took) = timed(setup.put("new.bin", MIB, &SLOW_RETRIES)).await;
    assert_failed_cleanly_in(&setup, &setup.folder, 1, &put, "the shared drive holds as many files and folders");
    assert!(put.stderr.contains("teamDriveFileLimitExceeded"), "{}", put.stderr);
    assert!(took < std::time::Duration::from_secs(20), "not retried, took {took:?}");
}

#[tokio::test]
async fn a_folder_at_its_children_limit_is_reported_at_once_with_advice() {
    let setup = Setup::new(Options::default()).await;
    let folder = setup.double.create_folder_in(&setup.folder, "Billing");
    setup.double.add_file(&folder, "old.bin", b"old", &[]);
    setup.double.set_folder_children_limit(1);
    let input = Input::Generated { size: MIB, seed: 5 };
    let (put, took) = timed(setup.run(&["remote", "put", &folder, "new.bin"], &SLOW_RETRIES, input)).await;
    assert_failed_cleanly_in(&setup, &folder, 1, &put, "the folder holds as many files and folders");
    assert!(put.stderr.contains("numChildrenInNonRootLimitExceeded"), "{}", put.stderr);
    assert!(took < std::time::Duration::from_secs(20), "not retried, took {took:?}");
}

#[tokio::test]
async fn a_revoked_token_is_refreshed_mid_upload() {
    let setup = Setup::new(Options::default()).await;
    let double = &setup.double;
    double.revoke_tokens_after_chunks(2);
    assert_stored(&setup, &setup.put("revoked.bin", 5 * MIB, &[]).await);
    let grants = double.requests().iter().filter(|r| r.path == "/token").count();
    assert!(grants >= 2, "a second token was fetched after the revocation");
}

#[tokio::test]
async fn an_expiring_token_is_renewed_during_a_long_upload() {
    let setup = Setup::new(Options { token_ttl: std::time::Duration::from_secs(1), ..Options::default() }).await;
    setup.double.pause_chunks(std::time::Duration::from_millis(300));
    assert_stored(&setup, &setup.put("slow.bin", 6 * MIB, &[]).await);
    let grants = setup.double.requests().iter().filter(|r| r.path == "/token").count();
    assert!(grants >= 2, "the token was renewed before it expired ({grants} grants)");
}

#[tokio::test]
async fn refresh_token_credentials_work_too() {
    let setup = Setup::new(Options::default()).await;
    let folder = setup.double.create_folder("My backups");
    let user = write_temp("user.json", &setup.double.authorized_user_json());
    let put = setup
        .run(
            &["remote", "put", &folder, "mine.bin"],
            &[("GDRIVE_CREDENTIALS", user.to_str().unwrap())],
            Input::Generated { size: 2 * MIB, seed: 3 },
        )
        .await;
    put.assert_success();
    assert_eq!(setup.double.file(&put.field("id").unwrap()).unwrap().sha256, put.input_sha256);
}

#[tokio::test]
async fn a_service_account_needs_a_shared_drive_or_delegation() {
    let setup = Setup::new(Options::default()).await;
    let folder = setup.double.create_folder("Operator's folder");
    setup.double.share_folder_with(&folder, "backup-bot@test-project.iam.gserviceaccount.com");
    let put = setup.run(&["remote", "put", &folder, "x.bin"], &[], Input::Bytes(vec![1; 1000])).await;
    assert!(!put.status.success());
    assert!(put.stderr.contains("no storage quota") && put.stderr.contains("GDRIVE_SUBJECT"), "{}", put.stderr);
    assert_eq!(setup.double.open_sessions(), 0);

    let subject = setup.double.user_email();
    setup.double.allow_delegation(&subject);
    let put = setup
        .run(&["remote", "put", &folder, "x.bin"], &[("GDRIVE_SUBJECT", &subject)], Input::Bytes(vec![1; 1000]))
        .await;
    put.assert_success();
}

#[tokio::test]
async fn bad_credentials_and_unshared_folders_say_what_to_fix() {
    let setup = Setup::new(Options::default()).await;
    let stranger = write_temp("stranger.json", &setup.double.stranger_service_account_json());
    let put = setup
        .run(
            &["remote", "put", &setup.folder, "x"],
            &[("GDRIVE_CREDENTIALS", stranger.to_str().unwrap())],
            Input::Bytes(vec![1]),
        )
        .await;
    assert!(!put.status.success());
    assert!(put.stderr.contains("Google refused the credentials"), "{}", put.stderr);

    let private = setup.double.create_folder("Not shared");
    let put = setup.run(&["remote", "put", &private, "x"], &[], Input::Bytes(vec![1])).await;
    assert!(!put.status.success());
    assert!(put.stderr.contains("not found, or is not shared with backup-bot@"), "{}", put.stderr);
}

#[tokio::test]
async fn every_call_carries_the_shared_drive_flags() {
    let setup = Setup::new(Options::default()).await;
    setup.put("a.bin", 2 * MIB, &[]).await.assert_success();
    setup.run(&["remote", "ls", &setup.folder], &[], Input::None).await.assert_success();
    for r in setup.double.requests() {
        if r.method == "PUT" || r.method == "POST" {
            assert!(r.content_length.is_some(), "{} {} states no length: Google answers 411", r.method, r.path);
        }
        if r.path.starts_with("/drive/") || r.path == "/upload/drive/v3/files" && r.method == "POST" {
            assert!(
                r.query.contains("supportsAllDrives=true"),
                "{} {}?{} lacks supportsAllDrives",
                r.method,
                r.path,
                r.query
            );
        }
        if r.method == "GET" && r.path == "/drive/v3/files" {
            assert!(
                r.query.contains("includeItemsFromAllDrives=true") && r.query.contains("corpora=drive"),
                "{}",
                r.query
            );
        }
    }
}

#[tokio::test]
async fn ls_pages_and_rm_trashes_or_deletes_as_set() {
    let setup = Setup::new(Options::default()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let put = setup.put(&format!("f{i}.bin"), 1000 + i, &[]).await;
        put.assert_success();
        ids.push(put.field("id").unwrap());
    }
    let ls = setup.run(&["remote", "ls", &setup.folder], &[("GDRIVE_PAGE_SIZE", "2")], Input::None).await;
    ls.assert_success();
    let text = ls.stdout_text();
    assert_eq!(text.lines().count(), 6, "{text}");
    let pages = setup
        .double
        .requests()
        .iter()
        .filter(|r| r.path == "/drive/v3/files" && r.query.contains("pageToken="))
        .count();
    assert!(pages >= 2, "the listing asked for further pages");
    for (i, id) in ids.iter().enumerate() {
        let file = setup.double.file(id).unwrap();
        assert!(text.contains(&format!("f{i}.bin\t{id}\t{}\t", 1000 + i)), "{text}");
        assert!(text.contains(&file.sha256), "ls shows Drive's sha256");
    }

    setup.run(&["remote", "rm", &setup.folder, "f0.bin"], &[], Input::None).await.assert_success();
    assert!(setup.double.file(&ids[0]).unwrap().trashed, "GDRIVE_DELETE defaults to the trash");
    setup
        .run(&["remote", "rm", &setup.folder, &ids[1]], &[("GDRIVE_DELETE", "permanent")], Input::None)
        .await
        .assert_success();
    assert!(setup.double.file(&ids[1]).is_none(), "permanent delete removes the file");
    let get = setup.run(&["remote", "get", &setup.folder, "f2.bin"], &[], Input::None).await;
    get.assert_success();
    assert_eq!(get.stdout, setup.double.content(&ids[2]).unwrap());
    assert_eq!(setup.double.files_in(&setup.folder).len(), 3);
}

#[tokio::test]
async fn a_checksum_drive_reports_wrongly_fails_the_put_and_removes_the_file() {
    let setup = Setup::new(Options::default()).await;
    setup.double.corrupt_next_checksum();
    let put = setup.put("corrupt.bin", 2 * MIB, &[]).await;
    assert!(!put.status.success());
    assert!(put.stderr.contains("the destination stored something else"), "{}", put.stderr);
    assert!(setup.double.files_in(&setup.folder).is_empty(), "the corrupt copy does not stay");
}

#[tokio::test]
async fn app_properties_are_written_on_create_updated_later_and_listed() {
    use orchestrator::config::Env;
    use orchestrator::config::storage::StorageSettings;
    use orchestrator::storage::destination::Destination;

    let setup = Setup::new(Options::default()).await;
    let env = setup.env(&[]);
    let settings = StorageSettings::from_env(&Env::from_pairs(env.iter().map(|(k, v)| (*k, v.as_str())))).unwrap();
    let destination = Destination::open(&settings).unwrap();
    let props = [("app_id".to_owned(), "42".to_owned()), ("run_id".to_owned(), "7".to_owned())].into_iter().collect();
    let mut writer = destination.writer(&setup.folder, "owned.bin", "application/gzip", &props).await.unwrap();
    writer.write(vec![9u8; 300_000]).await.unwrap();
    let stored = destination.stored("owned.bin", &writer.close().await.unwrap());
    assert_eq!(stored.properties.get("app_id").map(String::as_str), Some("42"));
    let sha = stored.sha256.clone().expect("Drive reports a sha256");

    let marks = [("sha256".to_owned(), sha.clone()), ("verified".to_owned(), "1".to_owned())].into_iter().collect();
    let updated = destination.set_properties(&setup.folder, &stored, &marks).await.unwrap();
    assert_eq!(updated.properties.get("verified").map(String::as_str), Some("1"));
    let in_double = setup.double.file(&stored.id).unwrap();
    assert_eq!(in_double.app_properties.get("run_id").map(String::as_str), Some("7"), "other keys are kept");
    assert_eq!(in_double.app_properties.get("sha256"), Some(&sha));

    let listed = destination.list(&setup.folder).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].properties.get("verified").map(String::as_str), Some("1"));
    assert_eq!(listed[0].sha256.as_deref(), Some(sha.as_str()));
    assert_eq!(listed[0].size, 300_000);
}
