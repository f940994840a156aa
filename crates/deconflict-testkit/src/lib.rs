//! Helpers shared by the test suites of several crates (a dev-dependency only): a database of
//! its own for each PostgreSQL test, on the server `scripts/pg.sh` starts, and the rule that a
//! PostgreSQL test never passes silently without one.

use std::io::Write;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const PG_ENV: &str = "DECONFLICT_TEST_POSTGRES";
/// The script of `scripts/pg.sh` that stops (`stop`) and starts (`start`) that server.
pub const PGCTL_ENV: &str = "DECONFLICT_TEST_PGCTL";

/// Whether the variables `vars` are all set. When one is not: a panic under `CI=true` (the
/// test must run there), otherwise a loud notice on standard error, written past the test
/// harness's capture so that it is seen, and `false`.
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
         !!! Run it under `scripts/pg.sh cargo test` (a throw-away server) or set \
         {PG_ENV}=postgres://user:password@host:port/database.\n"
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
    /// A fresh, empty database on the server in [`PG_ENV`], which must be set.
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
        .unwrap_or_else(|_| panic!("CREATE DATABASE {name} failed"));
        Self { admin, name, url }
    }

    /// [`TestDb::create`] when PostgreSQL is [`available`], else `None` (see there).
    pub fn fresh(test: &str) -> Option<Self> {
        available(test, &[PG_ENV]).then(Self::create)
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

#[cfg(test)]
mod tests {
    use super::with_dbname;

    #[test]
    fn with_dbname_replaces_only_the_database() {
        assert_eq!(
            with_dbname("postgres://u:p@127.0.0.1:5432/postgres", "t_1"),
            "postgres://u:p@127.0.0.1:5432/t_1"
        );
        assert_eq!(
            with_dbname("postgresql://u@h:1/db?sslmode=disable", "t"),
            "postgresql://u@h:1/t?sslmode=disable"
        );
        assert_eq!(with_dbname("postgres://h:1", "t"), "postgres://h:1/t");
    }
}
