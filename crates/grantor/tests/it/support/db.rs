//! A fresh database per test: a SQLite file in a temporary directory, or a new PostgreSQL
//! database created from `GRANTOR_TEST_POSTGRES_URL` and dropped afterwards.

use sqlx::Connection;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("GRANTOR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

fn unique(prefix: &str) -> String {
    let id = grantor_core::secret::new_id("").unwrap();
    format!("{prefix}{}", &id[..16])
}

pub struct TestDatabase {
    pub url: String,
    pub dir: PathBuf,
    admin_url: Option<String>,
    name: String,
}

/// `postgres://host/db?x` with the database part replaced.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let prefix = base.rsplit_once('/').map_or(base, |(p, _)| p);
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}

impl TestDatabase {
    pub async fn create(backend: Backend) -> Self {
        let dir = std::env::temp_dir().join(unique("grantor-test-"));
        std::fs::create_dir_all(&dir).unwrap();
        match backend {
            Backend::Sqlite => Self {
                url: dir.join("grantor.db").display().to_string(),
                dir,
                admin_url: None,
                name: String::new(),
            },
            Backend::Postgres => {
                let admin = postgres_url().expect("GRANTOR_TEST_POSTGRES_URL");
                let name = unique("grantor_t_");
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Self {
                    url: with_database(&admin, &name),
                    dir,
                    admin_url: Some(admin),
                    name,
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(admin) = self.admin_url.take() {
            let name = std::mem::take(&mut self.name);
            // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut conn)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}
