//! Real parts for tests: a fresh Postgres database per test on the machine's server, a private
//! Postgres cluster a test may stop and start, an `s3s-fs` S3 server on 127.0.0.1, and a
//! simulated WooCommerce store ([`WooSim`]) and the four fulfillment providers on one server
//! ([`ProviderSim`]).
//! Everything binds to 127.0.0.1 on a free port and is removed when dropped.
#![forbid(unsafe_code)]

mod http_stub;
pub use http_stub::{HttpStub, StubResponse};

pub mod woo_sim;
pub use woo_sim::{SimRequest, WooSim, WooSimOptions, order_template, webhook_signature};

pub mod provider_sim;
pub use provider_sim::{
    Fault, ProviderSim, ProviderSimOptions, SimEvent, SimOp, SimParcel, SimProvider, When,
};

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sqlx::Connection;

/// The server tests create their databases on (override with `PRESSROOM_TEST_POSTGRES`).
pub fn postgres_admin_url() -> String {
    std::env::var("PRESSROOM_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A database of its own on the shared Postgres server, dropped at the end.
pub struct PgDatabase {
    pub url: String,
    name: String,
    admin: String,
}

impl PgDatabase {
    pub async fn create() -> Result<PgDatabase> {
        let admin = postgres_admin_url();
        let name = unique_name("pressroom_test");
        let mut conn = sqlx::PgConnection::connect(&admin).await.with_context(|| {
            format!(
                "connect to Postgres at {admin} (is the server running? scripts/test starts it)"
            )
        })?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Ok(PgDatabase {
            url: format!("{base}/{name}"),
            name,
            admin,
        })
    }

    /// Drop the database (also done, without waiting, on drop).
    pub async fn drop_now(&self) -> Result<()> {
        let mut conn = sqlx::PgConnection::connect(&self.admin).await?;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // psql is on every machine with the server; a failure only leaves a test database.
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn wait_for_port(port: u16, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("nothing listening on 127.0.0.1:{port} after {timeout:?}")
}

/// The `s3s-fs` binary: `$S3S_FS`, else on PATH, else in `~/.cargo/bin`.
pub fn s3s_fs_binary() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("S3S_FS") {
        return Ok(PathBuf::from(p));
    }
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin")));
    for dir in candidates {
        let p = dir.join("s3s-fs");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "s3s-fs not found: scripts/test installs it (cargo install s3s-fs --version 0.14.1 --features binary)"
    )
}

/// A real S3-compatible server (s3s-fs, SigV4) on 127.0.0.1 with one empty bucket.
pub struct S3Server {
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub port: u16,
    pub root: tempfile::TempDir,
    child: Child,
}

impl S3Server {
    pub fn start() -> Result<S3Server> {
        let root = tempfile::tempdir()?;
        let bucket = "pressroom".to_string();
        std::fs::create_dir_all(root.path().join(&bucket))?;
        let port = free_port();
        let (access_key, secret_key) = (
            "pressroom-test".to_string(),
            "pressroom-test-secret".to_string(),
        );
        let child = Command::new(s3s_fs_binary()?)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &access_key, "--secret-key", &secret_key])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start s3s-fs")?;
        wait_for_port(port, Duration::from_secs(10))?;
        Ok(S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket,
            access_key,
            secret_key,
            port,
            root,
            child,
        })
    }

    /// The bucket's folder on disk (to look for stray files).
    pub fn bucket_dir(&self) -> PathBuf {
        self.root.path().join(&self.bucket)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private Postgres cluster (initdb in a temporary folder, run as the `postgres` user when
/// the tests run as root) that a test may stop and start under load.
pub struct PrivatePostgres {
    pub port: u16,
    pub url: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
}

fn postgres_bin() -> Result<PathBuf> {
    let base = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<_> = std::fs::read_dir(base)
        .with_context(|| format!("no Postgres binaries under {}", base.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .context("no pg_ctl under /usr/lib/postgresql/*/bin")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivatePostgres {
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    pub fn init() -> Result<PrivatePostgres> {
        let dir = tempfile::Builder::new().prefix("pressroom-pg").tempdir()?;
        let port = free_port();
        let pg = PrivatePostgres {
            port,
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            dir,
            bin: postgres_bin()?,
        };
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(pg.dir.path())
                .status()?;
            if !status.success() {
                bail!("chown of the private cluster folder failed");
            }
        }
        let data = pg.data_dir();
        let out = pg
            .command("initdb")
            .args([
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .output()?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        pg.start()?;
        Ok(pg)
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn start(&self) -> Result<()> {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .command("pg_ctl")
            .args(["-D", &self.data_dir(), "-o", &opts, "-w", "-l"])
            .arg(self.dir.path().join("log.txt"))
            .arg("start")
            .output()?;
        if !out.status.success() {
            bail!(
                "pg_ctl start failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// A fast shutdown: connections are cut, as when a database server restarts.
    pub fn stop(&self) -> Result<()> {
        let out = self
            .command("pg_ctl")
            .args(["-D", &self.data_dir(), "-m", "fast", "-w", "stop"])
            .output()?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data_dir(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// A TCP proxy on 127.0.0.1 that forwards to `target` but cuts every connection after `limit`
/// bytes from the client: a network failing half-way through an upload.
pub async fn cutting_proxy(target: u16, limit: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let (mut sent, mut buf) = (0, vec![0u8; 16 * 1024]);
                    while sent < limit {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n.min(limit - sent),
                        };
                        if sw.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        sent += n;
                    }
                };
                // Whichever direction ends first drops both: the cut.
                tokio::select! { _ = up => {}, _ = tokio::io::copy(&mut sr, &mut cw) => {} }
            });
        }
    });
    port
}

/// Every file below `dir` (none if it does not exist).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The checkout's root folder (tests find fixtures, fonts and templates there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `[app]` section of the checkout's `pressroom.toml` (the demo mapping of SKUs to the
/// fixture templates) as TOML, with its folders made absolute: tests deserialize it into
/// `app::AppSettings`, so they use the same mapping a newcomer's first run does.
pub fn demo_app_settings() -> String {
    let root = repo_root();
    let text = std::fs::read_to_string(root.join("pressroom.toml"))
        .expect("pressroom.toml in the checkout");
    let config: toml::Table = text.parse().expect("pressroom.toml is TOML");
    let mut app = config["app"].as_table().expect("an [app] section").clone();
    for key in ["templates_dir", "fonts_dir"] {
        let rel = app[key].as_str().expect("a folder").to_string();
        app.insert(
            key.into(),
            toml::Value::String(root.join(rel).display().to_string()),
        );
    }
    toml::to_string(&app).expect("serializes")
}
