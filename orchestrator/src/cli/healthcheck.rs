//! `orchestrator healthcheck`: asks the `serve` of this container (or machine) whether it is
//! ready, for Docker's HEALTHCHECK, so the image needs no curl. Reads only `LISTEN_ADDR`: a
//! broken setting elsewhere must not make a running service look unhealthy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::Env;

/// The address to ask: `LISTEN_ADDR`, with an unspecified host (`0.0.0.0`, `[::]`) replaced by
/// the loopback address of its family, where the service also answers.
pub fn target(env: &Env) -> Result<SocketAddr, String> {
    let listen = env.get("LISTEN_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into());
    let mut addr: SocketAddr =
        listen.parse().map_err(|_| format!("LISTEN_ADDR={listen:?}: use HOST:PORT, e.g. 0.0.0.0:8080"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(addr)
}

/// Exit 0 when `GET /readyz` answers 2xx within `timeout`, 1 otherwise (with the reason).
pub async fn healthcheck(env: &Env, timeout: Duration) -> anyhow::Result<ExitCode> {
    let addr = target(env).map_err(anyhow::Error::msg)?;
    let url = format!("http://{addr}/readyz");
    let client = reqwest::Client::builder().timeout(timeout).no_proxy().build()?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(ExitCode::SUCCESS),
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            eprintln!("not ready: {url} answered {status}: {}", body.trim());
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!("not ready: {url}: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_listen_address_is_asked_on_loopback() {
        let cases = [
            (None, "127.0.0.1:8080"),
            (Some("0.0.0.0:9000"), "127.0.0.1:9000"),
            (Some("[::]:8080"), "[::1]:8080"),
            (Some("10.1.2.3:8080"), "10.1.2.3:8080"),
        ];
        for (listen, expected) in cases {
            let env = Env::from_pairs(listen.map(|l| ("LISTEN_ADDR", l)));
            assert_eq!(target(&env).unwrap().to_string(), expected, "{listen:?}");
        }
        assert!(target(&Env::from_pairs([("LISTEN_ADDR", "localhost")])).unwrap_err().contains("HOST:PORT"));
    }
}
