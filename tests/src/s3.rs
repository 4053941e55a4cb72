//! A real S3-compatible server for tests: PyPI's `moto` server, on a free loopback port.

use std::process::Stdio;
use std::time::Duration;

/// A running `moto_server`, killed when dropped.
pub struct MotoServer {
    child: tokio::process::Child,
    /// Its endpoint URL.
    pub endpoint: String,
}

impl MotoServer {
    /// Starts one and creates `bucket`; `None` (after saying why) when `moto_server` is missing.
    pub async fn start(test: &str, bucket: &str) -> Option<MotoServer> {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("addr").port()
        };
        let child = tokio::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let Ok(child) = child else {
            eprintln!("SKIPPED {test}: moto_server is not installed (python3 -m pip install 'moto[server]')");
            return None;
        };
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http.put(format!("{endpoint}/{bucket}")).send().await.is_ok_and(|r| r.status().is_success()) {
                return Some(MotoServer { child, endpoint });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto_server did not come up on {endpoint}");
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
