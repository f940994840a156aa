//! Shared by the binary's tests: fresh PostgreSQL databases for tests that need one, free
//! loopback ports, waiting for a started server.

#![allow(dead_code)]

#[allow(unused_imports)]
pub use deconflict_testkit::{available, TestDb, PGCTL_ENV, PG_ENV};

/// A loopback port free at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits up to 30 s for `base`'s `/healthy` to answer 2xx.
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        if let Ok(r) = client.get(format!("{base}/healthy")).send().await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server did not become healthy");
}
