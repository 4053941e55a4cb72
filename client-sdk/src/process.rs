//! Backups made by other programs (`pg_dump`, `tar`, a script): stream a command's standard
//! output as an export, and feed an import into a command's standard input.
//!
//! Neither passes the contract's token on: `BACKUP_TOKEN` and `BACKUP_TOKEN_FILE` are removed
//! from the command's environment. Both check the command's exit status: an export whose command exits non-zero ends with an
//! `Err`, so the connection is cut and a dump that died half-way never looks complete.

use std::process::Stdio;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::io::ReaderStream;

use contract_spec::{VerifyCheck, VerifyReport};

use crate::source::{ExportStream, ImportStream, SourceError};

const READ_SIZE: usize = 64 * 1024;
/// How much of a failing command's standard error goes into the error message.
const STDERR_TAIL: usize = 2048;

/// The variables that carry the contract's token: never handed on to the tools a source runs
/// (a `command` recipe running `env` must not print it).
pub(crate) const TOKEN_VARIABLES: [&str; 2] = ["BACKUP_TOKEN", "BACKUP_TOKEN_FILE"];

/// Keeps the token's variables out of `cmd`'s environment.
pub(crate) fn without_token(cmd: &mut Command) -> &mut Command {
    for var in TOKEN_VARIABLES {
        cmd.env_remove(var);
    }
    cmd
}

fn program(cmd: &Command) -> String {
    cmd.as_std().get_program().to_string_lossy().into_owned()
}

/// Keeps the last [`STDERR_TAIL`] bytes a command writes to standard error.
fn collect_stderr(child: &mut Child) -> JoinHandle<String> {
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let Some(mut stderr) = stderr else {
            return String::new();
        };
        let mut tail = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > STDERR_TAIL {
                tail.drain(..tail.len() - STDERR_TAIL);
            }
        }
        String::from_utf8_lossy(&tail).trim().to_owned()
    })
}

async fn failure(
    program: &str,
    status: std::io::Result<std::process::ExitStatus>,
    stderr: JoinHandle<String>,
) -> SourceError {
    let stderr = stderr.await.unwrap_or_default();
    let said = if stderr.is_empty() { String::new() } else { format!(": {stderr}") };
    match status {
        Ok(status) => SourceError::failed(format!("`{program}` failed ({status}){said}")),
        Err(e) => SourceError::failed(format!("could not wait for `{program}`: {e}{said}")),
    }
}

/// Runs `cmd` and streams its standard output as an export.
///
/// The stream ends cleanly only if the command exits with status 0; otherwise its last item is
/// an error quoting the end of the command's standard error. If the export is dropped early
/// (the orchestrator went away) the command is killed.
pub fn export_command(mut cmd: Command) -> Result<ExportStream, SourceError> {
    let program = program(&cmd);
    without_token(&mut cmd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| SourceError::failed(format!("could not start `{program}`: {e}")))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = collect_stderr(&mut child);
    let state = Some((ReaderStream::with_capacity(stdout, READ_SIZE), child, stderr));
    let stream = futures::stream::unfold(state, move |state| {
        let program = program.clone();
        async move {
            let (mut stdout, mut child, stderr) = state?;
            match stdout.next().await {
                Some(Ok(chunk)) => Some((Ok(chunk), Some((stdout, child, stderr)))),
                Some(Err(e)) => {
                    let _ = child.kill().await;
                    Some((Err(SourceError::failed(format!("reading the output of `{program}` failed: {e}"))), None))
                }
                None => {
                    let status = child.wait().await;
                    if matches!(&status, Ok(s) if s.success()) {
                        None
                    } else {
                        Some((Err(failure(&program, status, stderr).await), None))
                    }
                }
            }
        }
    });
    Ok(Box::pin(stream))
}

/// Streams any reader (a file, a pipe) as an export.
pub fn export_reader(reader: impl AsyncRead + Send + 'static) -> ExportStream {
    Box::pin(ReaderStream::with_capacity(reader, READ_SIZE).map(|r| r.map_err(SourceError::from)))
}

/// Runs `cmd` and writes the import body to its standard input.
///
/// Succeeds only if the whole body was written and the command exited with status 0. On a bad
/// body (checksum mismatch, cut upload) the command is killed before its input ends, so a
/// command that restores in one transaction or into a staging area leaves the data as it was.
pub async fn import_command(mut cmd: Command, mut body: ImportStream) -> Result<(), SourceError> {
    let program = program(&cmd);
    without_token(&mut cmd).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| SourceError::failed(format!("could not start `{program}`: {e}")))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stderr = collect_stderr(&mut child);
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                if stdin.write_all(&chunk).await.is_err() {
                    // The command stopped reading: it exited or closed its input early. The rest
                    // of the body is read and dropped, so the answer reaches the orchestrator
                    // instead of a connection closed under its upload.
                    drop(stdin);
                    while let Some(Ok(_)) = body.next().await {}
                    let status = child.wait().await;
                    let error = failure(&program, status, stderr).await;
                    return Err(SourceError::failed(format!("{error} before reading the whole backup")));
                }
            }
            Err(e) => {
                let _ = child.kill().await;
                return Err(e);
            }
        }
    }
    drop(stdin);
    let status = child.wait().await;
    if matches!(&status, Ok(s) if s.success()) { Ok(()) } else { Err(failure(&program, status, stderr).await) }
}

/// Runs `cmd` on the body of a verify (a restore drill) as [`import_command`] does, and reports
/// the result as the check `check`: passed when the whole body was read and the command exited
/// with status 0, failed with the end of its standard error otherwise. Use a command that reads
/// the whole copy and changes nothing (`tar -tzf -`, `pg_restore --file=/dev/null`).
pub async fn verify_command(cmd: Command, body: ImportStream, check: &str) -> Result<VerifyReport, SourceError> {
    let progress = body.progress();
    let outcome = import_command(cmd, body).await;
    let bytes = progress.lock().map(|p| p.bytes).unwrap_or_default();
    let result = match outcome {
        Ok(()) => VerifyCheck::passed(check, Some(format!("{bytes} bytes read"))),
        Err(SourceError::Failed(message)) => VerifyCheck::failed(check, message),
        Err(other) => return Err(other),
    };
    Ok(VerifyReport::of(bytes, vec![result]))
}
