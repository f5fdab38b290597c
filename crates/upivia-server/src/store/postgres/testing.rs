//! Fresh databases for tests: each test gets its own database, created
//! from a template that was migrated once (per migration set), and
//! dropped when the guard goes. Tests find the server through
//! `UPIVIA_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`).

use std::time::Duration;

use sqlx::{Connection, Executor, PgConnection};

use super::MIGRATOR;

/// The variable naming the server tests create databases on.
pub const URL_VAR: &str = "UPIVIA_TEST_POSTGRES_URL";

/// The server URL when tests should use PostgreSQL. Under CI
/// (`CI=true`) a missing variable is an error, so a PostgreSQL suite can
/// never pass by being skipped.
pub fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{URL_VAR} is not set, and CI=true: PostgreSQL tests must run under CI")
        }
        _ => None,
    }
}

/// A database of its own, dropped (with its connections) on drop.
pub struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh, migrated database on the server at `server_url`.
    pub async fn create(server_url: &str) -> Result<TestDatabase, sqlx::Error> {
        let template = ensure_template(server_url).await?;
        let name = format!(
            "upivia_test_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let mut admin = PgConnection::connect(server_url).await?;
        // CREATE DATABASE … TEMPLATE needs the template idle; other
        // processes cloning it at the same moment are serialised here.
        admin.execute("SELECT pg_advisory_lock(7270110001)").await?;
        let created = admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
            )))
            .await;
        admin
            .execute("SELECT pg_advisory_unlock(7270110001)")
            .await?;
        created?;
        Ok(TestDatabase {
            server: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        })
    }

    /// An empty database, not migrated: for tests of the migration itself.
    pub async fn create_empty(server_url: &str) -> Result<TestDatabase, sqlx::Error> {
        let name = format!(
            "upivia_test_{}",
            ulid::Ulid::new().to_string().to_ascii_lowercase()
        );
        let mut admin = PgConnection::connect(server_url).await?;
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await?;
        Ok(TestDatabase {
            server: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop is synchronous and may run inside a runtime: drop the
        // database from a thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let mut admin = PgConnection::connect(&server).await.ok()?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

/// `server_url` with its database replaced by `name`.
fn with_database(server_url: &str, name: &str) -> String {
    match url::Url::parse(server_url) {
        Ok(mut url) => {
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        Err(_) => format!("{server_url}/{name}"),
    }
}

/// The template for the current migrations, created once per migration
/// set (its name carries their checksum), across processes.
async fn ensure_template(server_url: &str) -> Result<String, sqlx::Error> {
    use sha2::{Digest, Sha256};
    let mut digest = Sha256::new();
    for m in MIGRATOR.iter() {
        digest.update(m.version.to_be_bytes());
        digest.update(&m.checksum);
    }
    let template = format!("upivia_template_{}", &hex::encode(digest.finalize())[..16]);
    let mut admin = PgConnection::connect(server_url).await?;
    admin.execute("SELECT pg_advisory_lock(7270110001)").await?;
    let result = async {
        let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
            .bind(&template)
            .fetch_optional(&mut admin)
            .await?;
        if exists.is_none() {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE \"{template}\""
                )))
                .await?;
            let mut conn = PgConnection::connect(&with_database(server_url, &template)).await?;
            MIGRATOR.run(&mut conn).await?;
            conn.close().await?;
            // Let the closed session leave before anyone clones it.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok::<_, sqlx::Error>(())
    }
    .await;
    admin
        .execute("SELECT pg_advisory_unlock(7270110001)")
        .await?;
    result?;
    Ok(template)
}
