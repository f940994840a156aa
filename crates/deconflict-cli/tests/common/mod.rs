//! Shared by the binary's tests: fresh PostgreSQL databases for tests that need one.

#![allow(dead_code)]

use std::io::Write;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const PG_ENV: &str = "DECONFLICT_TEST_POSTGRES";
/// The script of `scripts/pg.sh` that stops (`stop`) and starts (`start`) that server.
pub const PGCTL_ENV: &str = "DECONFLICT_TEST_PGCTL";

/// Whether the variables `vars` are all set. When one is not: a panic under `CI=true`,
/// otherwise a loud notice on standard error (past the harness's capture) and `false`.
pub fn available(test: &str, vars: &[&str]) -> bool {
    let missing: Vec<&str> = vars
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(" and ");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{missing} not set, and CI=true: {test} must run in CI. Run the suite with \
             scripts/test.sh (or scripts/pg.sh cargo test)."
        );
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n!!! NOT RUN: {test} needs PostgreSQL and {missing} is not set.\n\
         !!! Run `scripts/pg.sh cargo test -p deconflict-cli` (a throw-away server).\n"
    );
    false
}

/// A database of its own for one test, dropped afterwards. Safe to create and drop on an
/// async thread: the blocking client runs on a thread of its own.
pub struct TestDb {
    admin: String,
    name: String,
    pub url: String,
}

impl TestDb {
    pub fn create() -> Self {
        let admin = std::env::var(PG_ENV).unwrap_or_else(|_| panic!("{PG_ENV} is not set"));
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let url = with_dbname(&admin, &name);
        let (a, n) = (admin.clone(), name.clone());
        std::thread::spawn(move || {
            postgres::Client::connect(&a, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot connect to {PG_ENV}: {e}"))
                .batch_execute(&format!("CREATE DATABASE {n}"))
                .unwrap_or_else(|e| panic!("CREATE DATABASE {n}: {e}"));
        })
        .join()
        .expect("CREATE DATABASE");
        Self { admin, name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        })
        .join();
    }
}

/// `url` with its database replaced by `db`.
pub fn with_dbname(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}
