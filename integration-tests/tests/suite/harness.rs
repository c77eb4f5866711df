//! Runs the `vigil` binary under test: start it on port 0 in a temporary directory, wait until it
//! is ready, stop it with SIGTERM or kill it with SIGKILL, start it again on the same data, and
//! talk to its HTTP API (SQL, admin, `/metrics`). The server's stderr of every start goes to a file
//! in the temporary directory and is printed when a test fails.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tempfile::TempDir;

/// The program under test: the `vigil` binary, built by this crate under another name.
const BIN: &str = env!("CARGO_BIN_EXE_vigil-under-test");

/// How long a start, a replay or a clean stop may take in a debug build on a busy machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two polls.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// One row of a SQL answer: column name to JSON value.
pub(crate) type Row = Map<String, Value>;

/// The listeners a started server printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Addrs {
    pub(crate) otlp_grpc: SocketAddr,
    pub(crate) otlp_http: SocketAddr,
    pub(crate) http: SocketAddr,
}

/// A `vigil` server and the temporary directory that holds its data and logs. Dropping it kills
/// the process, and fails the test if the server died on its own or logged a panic; dropping it
/// while the test panics prints the server's logs.
pub(crate) struct Vigil {
    root: TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
    addrs: Option<Addrs>,
    starts: u32,
    client: reqwest::Client,
}

impl Vigil {
    /// Starts a server with the default configuration and waits until it is ready.
    pub(crate) async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra `VIGIL_…` settings and waits until it is ready.
    pub(crate) async fn start_with(env: &[(&str, &str)]) -> Self {
        let root = tempfile::Builder::new()
            .prefix("vigil-e2e-")
            .tempdir()
            .expect("create temporary directory");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("build http client");
        let mut vigil = Vigil {
            root,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
            addrs: None,
            starts: 0,
            client,
        };
        vigil.launch().await;
        vigil
    }

    /// Sets (or with `None` removes) a `VIGIL_…` setting for the next start.
    pub(crate) fn set_env(&mut self, key: &str, value: Option<&str>) {
        self.env.retain(|(k, _)| k != key);
        if let Some(v) = value {
            self.env.push((key.to_string(), v.to_string()));
        }
    }

    /// The data directory, the same across restarts.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The listeners of the running server.
    pub(crate) fn addrs(&self) -> Addrs {
        self.addrs.expect("the server is not running")
    }

    /// The OTLP/gRPC endpoint, as the exporter takes it.
    pub(crate) fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.addrs().otlp_grpc)
    }

    /// The URL of an OTLP/HTTP path such as `/v1/traces`.
    pub(crate) fn otlp_http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs().otlp_http)
    }

    /// Sends `req` over OTLP/HTTP protobuf (as `tenant` when given) and expects it taken.
    pub(crate) async fn export_traces(
        &self,
        req: &opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        tenant: Option<&str>,
    ) {
        use prost::Message;
        let mut post = self
            .http()
            .post(self.otlp_http_url("/v1/traces"))
            .header("Content-Type", "application/x-protobuf")
            .body(req.encode_to_vec());
        if let Some(t) = tenant {
            post = post.header("X-Scope-OrgID", t);
        }
        let resp = post.send().await.expect("export");
        assert_eq!(resp.status().as_u16(), 200, "OTLP/HTTP traces export");
    }

    /// The URL of a path of the HTTP API.
    pub(crate) fn api_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs().http)
    }

    /// A client for plain HTTP requests.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// The process id of the running server.
    pub(crate) fn pid(&self) -> i32 {
        let child = self.child.as_ref().expect("the server is not running");
        i32::try_from(child.id()).expect("pid fits in i32")
    }

    /// Starts the server again on the same data directory, on new ports, after [`Vigil::stop`]
    /// or [`Vigil::kill`], and waits until it is ready.
    pub(crate) async fn restart(&mut self) {
        self.launch().await;
    }

    /// Sends SIGTERM and waits for a clean exit with status 0.
    pub(crate) async fn stop(&mut self) {
        let pid = self.pid();
        send_signal(pid, libc::SIGTERM);
        let status = self.wait_exit(STOP_TIMEOUT).await;
        assert!(status.success(), "vigil exited with {status} after SIGTERM");
    }

    /// Kills the server with SIGKILL, as a crash or an OOM kill would, and reaps it.
    pub(crate) async fn kill(&mut self) {
        let pid = self.pid();
        send_signal(pid, libc::SIGKILL);
        let status = self.wait_exit(STOP_TIMEOUT).await;
        assert!(!status.success(), "vigil survived SIGKILL: {status}");
    }

    /// Whether the server process has exited (on its own or by a signal), without reaping it
    /// from the harness: [`Drop`] still sees the exit and fails the test.
    pub(crate) fn has_exited(&mut self) -> bool {
        let child = self.child.as_mut().expect("the server is not running");
        matches!(child.try_wait(), Ok(Some(_)))
    }

    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            let child = self.child.as_mut().expect("the server is not running");
            if let Some(status) = child.try_wait().expect("wait for vigil") {
                self.child = None;
                self.addrs = None;
                return status;
            }
            if Instant::now() > deadline {
                panic!("vigil did not exit within {timeout:?}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn launch(&mut self) {
        assert!(self.child.is_none(), "vigil is already running");
        self.starts += 1;
        let log_path = self.log_path(self.starts);
        let stderr = std::fs::File::create(&log_path).expect("create log file");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve");
        // Only what the test sets: no VIGIL_* or RUST_LOG from the environment of the runner.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("VIGIL_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .env("VIGIL_DATA_DIR", self.data_dir())
            .env("VIGIL_OTLP_GRPC_ADDR", "127.0.0.1:0")
            .env("VIGIL_OTLP_HTTP_ADDR", "127.0.0.1:0")
            .env("VIGIL_HTTP_ADDR", "127.0.0.1:0")
            .env("VIGIL_LOG_LEVEL", "info")
            .env("VIGIL_QUERY_THREADS", "2")
            // Self-watch writes Vigil's own metrics into the store every few seconds; tests that
            // count files or rows turn it on only where they test it (`alerting`).
            .env("VIGIL_SELF_WATCH", "false");
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        let mut child = cmd.spawn().expect("spawn vigil");

        // The first stdout line names the listeners; the rest of stdout is drained so that the
        // server never blocks on a full pipe.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        let addrs = loop {
            let line = match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some(line)) => line,
                Ok(None) => panic!("vigil closed stdout before printing its listeners"),
                Err(_) => panic!("vigil printed no listeners within {START_TIMEOUT:?}"),
            };
            if let Some(addrs) = parse_listening(&line) {
                break addrs;
            }
        };
        self.addrs = Some(addrs);
        self.wait_ready(deadline).await;
    }

    async fn wait_ready(&mut self, deadline: Instant) {
        let url = self.api_url("/ready");
        loop {
            let child = self.child.as_mut().expect("the server is not running");
            if let Some(status) = child.try_wait().expect("poll vigil") {
                self.child = None;
                panic!("vigil exited with {status} before it was ready");
            }
            if let Ok(resp) = self.client.get(&url).send().await {
                if resp.status() == reqwest::StatusCode::OK {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("vigil was not ready within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The stderr file of the current start.
    pub(crate) fn log_file(&self) -> PathBuf {
        self.log_path(self.starts)
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.root.path().join(format!("vigil-{start}.stderr.log"))
    }

    /// The stderr of every start so far.
    pub(crate) fn logs(&self) -> String {
        let mut out = String::new();
        for start in 1..=self.starts {
            let path = self.log_path(start);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("<{e}>"));
            out.push_str(&format!(
                "----- vigil start {start} stderr ({}) -----\n",
                path.display()
            ));
            out.push_str(&text);
        }
        out
    }

    /// `GET` of an API path: status and body.
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .client
            .get(self.api_url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("read body"))
    }

    /// Sends `req` to `/api/v1/write` as Prometheus does (snappy protobuf); asserts the 204.
    pub(crate) async fn remote_write(&self, req: &ingest::remote_write::WriteRequest) {
        use prost::Message;
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .expect("snappy");
        let (status, text) = self.post_remote_write(body).await;
        assert_eq!(status, 204, "{text}");
    }

    /// Posts a snappy body to `/api/v1/write`: status and body text.
    pub(crate) async fn post_remote_write(&self, body: Vec<u8>) -> (u16, String) {
        let resp = self
            .http()
            .post(self.api_url("/api/v1/write"))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .expect("POST /api/v1/write");
        (resp.status().as_u16(), resp.text().await.expect("body"))
    }

    /// `/metrics` as text.
    pub(crate) async fn metrics_text(&self) -> String {
        let (status, body) = self.get("/metrics").await;
        assert_eq!(status, 200, "GET /metrics: {body}");
        body
    }

    /// Flushes every head to Parquet segments.
    pub(crate) async fn flush(&self) {
        let resp = self
            .client
            .post(self.api_url("/api/v1/admin/flush"))
            .send()
            .await
            .expect("POST /api/v1/admin/flush");
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        assert_eq!(status, 200, "admin flush failed: {body}");
    }

    /// Runs a SQL query as `tenant` (no header when `None`): status and JSON body.
    pub(crate) async fn sql_response(&self, tenant: Option<&str>, query: &str) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.api_url("/api/v1/sql"))
            .json(&json!({ "query": query }));
        if let Some(tenant) = tenant {
            req = req.header("X-Scope-OrgID", tenant);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST /api/v1/sql: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("read sql body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("sql answer is not JSON ({e}): {text}"));
        (status, body)
    }

    /// Runs a SQL query without a tenant header; panics unless it succeeds.
    pub(crate) async fn sql(&self, query: &str) -> Vec<Row> {
        self.sql_as(None, query).await
    }

    /// Runs a SQL query as `tenant`; panics unless it succeeds. Checks that every row has exactly
    /// the columns the answer declares.
    pub(crate) async fn sql_as(&self, tenant: Option<&str>, query: &str) -> Vec<Row> {
        let (status, body) = self.sql_response(tenant, query).await;
        assert_eq!(status, 200, "query {query:?} failed: {body}");
        rows_of(&body, query)
    }
}

impl Drop for Vigil {
    /// Kills the server; fails the test when the server died on its own or logged a panic in
    /// any of its starts (a panic in a background flush or compaction task shows nowhere else).
    fn drop(&mut self) {
        let mut died = None;
        if let Some(mut child) = self.child.take() {
            if let Ok(Some(status)) = child.try_wait() {
                died = Some(status);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            let logs = self.logs();
            let panicked = logs.contains("panicked at") || logs.contains("fatal runtime error");
            if died.is_some() || panicked {
                panic!(
                    "the server {}:\n{logs}",
                    match died {
                        Some(status) => format!("died on its own ({status})"),
                        None => "logged a panic".to_string(),
                    }
                );
            }
        }
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
            eprintln!(
                "data directory: {}",
                list_files(&self.data_dir()).join("\n  ")
            );
        }
    }
}

/// Parses `vigil listening: otlp_grpc=A otlp_http=B http=C`.
fn parse_listening(line: &str) -> Option<Addrs> {
    let rest = line.strip_prefix("vigil listening:")?;
    let mut found = BTreeMap::new();
    for part in rest.split_whitespace() {
        let (key, value) = part.split_once('=')?;
        found.insert(key, value.parse::<SocketAddr>().ok()?);
    }
    Some(Addrs {
        otlp_grpc: *found.get("otlp_grpc")?,
        otlp_http: *found.get("otlp_http")?,
        http: *found.get("http")?,
    })
}

/// The rows of a SQL answer, checked against its `columns`.
fn rows_of(body: &Value, query: &str) -> Vec<Row> {
    let columns: Vec<&str> = body["columns"]
        .as_array()
        .unwrap_or_else(|| panic!("no columns in the answer to {query:?}: {body}"))
        .iter()
        .map(|c| c["name"].as_str().expect("column name"))
        .collect();
    let rows = body["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no rows in the answer to {query:?}: {body}"));
    rows.iter()
        .map(|row| {
            let row = row.as_object().expect("row is an object").clone();
            let mut keys: Vec<&str> = row.keys().map(String::as_str).collect();
            let mut expected = columns.clone();
            keys.sort_unstable();
            expected.sort_unstable();
            assert_eq!(keys, expected, "row keys differ from the columns in {body}");
            row
        })
        .collect()
}

/// Every file under `dir`, relative to it.
pub(crate) fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap_or(&path)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

#[allow(unsafe_code)]
pub(crate) fn send_signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) has no memory effects; `pid` is our own child, not yet reaped, so the id
    // cannot have been reused by another process.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}) failed: {}",
        std::io::Error::last_os_error()
    );
}

/// Calls `check` every few milliseconds until it returns `Ok`, for at most `timeout`; panics with
/// the last error after that.
pub(crate) async fn poll<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("{what}: not true within {timeout:?}; last: {last}")
            }
            Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
        }
    }
}

/// Nanoseconds since the Unix epoch.
pub(crate) fn nanos(t: SystemTime) -> i64 {
    i64::try_from(t.duration_since(UNIX_EPOCH).expect("after 1970").as_nanos()).expect("fits i64")
}

/// A time a little in the past, with sub-microsecond digits so that truncation would show.
pub(crate) fn base_time() -> SystemTime {
    let now = nanos(SystemTime::now());
    let whole_seconds = now - now % 1_000_000_000 - 60_000_000_000;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(whole_seconds).expect("positive") + 123_456_789)
}

/// The sum of every sample of `name` in Prometheus text, whatever its labels; `None` if absent.
pub(crate) fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let series_name = series.split('{').next().unwrap_or_default().trim();
        if series_name == name {
            let v: f64 = value
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad sample {line:?}"));
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// The sum of the samples of `name` whose labels include every pair of `labels`; `None` if
/// there are none.
pub(crate) fn metric_with(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
        if series_name.trim() != name {
            continue;
        }
        if labels
            .iter()
            .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        {
            let v: f64 = value.trim().parse().expect("sample value");
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

/// The string value of `row[key]`, panicking with the row otherwise.
pub(crate) fn str_of<'a>(row: &'a Row, key: &str) -> &'a str {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{key} is not a string in {row:?}"))
}

/// A JSON object of string values, for comparing attribute maps.
pub(crate) fn string_map<const N: usize>(pairs: [(&str, &str); N]) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect(),
    )
}
