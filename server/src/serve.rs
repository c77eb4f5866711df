//! `vigil serve`: binds the listeners, replays the WAL, then serves ingest and queries until
//! SIGTERM or SIGINT, when it stops taking requests, flushes every head and exits.

use std::future::IntoFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use parking_lot::RwLock;
use storage::index::IndexOptions;
use storage::{
    CompactionConfig, Engine, EngineConfig, FsyncPolicy, ReadView, RetentionConfig, Sink, WalConfig,
};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

use crate::config::{Config, Fsync};
use crate::telemetry;

/// Runs the server on a multi-threaded runtime until a termination signal.
pub(crate) fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vigil-io")
        .max_blocking_threads(blocking_threads(config.limits.blocking_threads))
        .build()
        .context("failed to build the runtime")?;
    runtime.block_on(serve(config))
}

/// Size of the blocking pool, where requests are decoded and converted and heads flushed. A
/// few threads per core, not tokio's 512: many threads each warming their own allocator cache
/// cost about a sixth of the ingest rate of a core (docs/0005).
fn blocking_threads(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (2 * cores).max(4)
}

/// The router served before the WAL replay is done, and the full one after.
#[derive(Clone)]
struct ApiSlot {
    ready: Arc<AtomicBool>,
    api: Arc<RwLock<Option<Router>>>,
}

async fn ready(State(slot): State<ApiSlot>) -> Response {
    if slot.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "replaying wal\n").into_response()
    }
}

async fn dispatch(State(slot): State<ApiSlot>, req: Request) -> Response {
    let api = slot.api.read().clone();
    match api {
        Some(router) => match router.oneshot(req).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        },
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "not ready: replaying the wal\n",
        )
            .into_response(),
    }
}

fn engine_config(config: &Config) -> EngineConfig {
    EngineConfig {
        data_dir: config.data_dir.clone(),
        wal: WalConfig {
            dir: config.data_dir.join("wal"),
            fsync: match config.wal.fsync {
                Fsync::Always => FsyncPolicy::Always,
                Fsync::Interval => FsyncPolicy::Interval(config.wal.fsync_interval),
                Fsync::Never => FsyncPolicy::Never,
            },
            segment_bytes: config.wal.segment_bytes,
            ..WalConfig::default()
        },
        flush_bytes: config.storage.flush_bytes,
        flush_age: config.storage.flush_age,
        max_head_bytes: config.storage.max_head_bytes,
        head_full_wait: config.storage.head_full_wait,
        zstd_level: config.storage.zstd_level,
        text_zstd_level: config.storage.text_zstd_level,
        compact_text_zstd_level: config.storage.compact_text_zstd_level,
        row_group_rows: config.storage.row_group_rows,
        flush_pause_at: config.storage.flush_pause_at.clone(),
        index: config.index.enabled.then_some(IndexOptions {
            max_attribute_values: config.index.max_attribute_values,
            block_rows: config.index.block_rows,
            body: true,
        }),
        index_body_at_flush: config.index.body_at_flush,
        compaction: CompactionConfig {
            enabled: config.compaction.enabled,
            interval: config.compaction.interval,
            min_age: config.compaction.min_age,
            target_bytes: config.compaction.target_bytes,
            target_rows: config.compaction.target_rows,
            grace: config.compaction.grace,
            pause_at: config.compaction.pause_at.clone(),
        },
        retention: RetentionConfig {
            default: config.retention.periods(),
            tenants: config
                .retention
                .tenants
                .iter()
                .map(|(t, p)| (t.clone(), p.periods()))
                .collect(),
        },
        index_cache_bytes: config.index.cache_bytes,
        hot: storage::HotConfig {
            window_ms: i64::try_from(config.query.hot_window.as_millis()).unwrap_or(i64::MAX),
            max_bytes: config.query.hot_max_bytes,
        },
    }
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("failed to bind the {what} listener on {addr}"))
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = int.recv() => tracing::info!("received SIGINT"),
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// What a reload reloads: the rule files and the Alertmanager configuration.
#[derive(Clone)]
struct Reloadable {
    rules: Arc<alerting::RuleManager>,
    alertmanagers: Arc<alerting::alertmanager::Alertmanagers>,
    alertmanager_config: Option<std::path::PathBuf>,
}

/// Reloads the Alertmanager configuration, then the rule files; a file that does not load
/// leaves what runs as it was. The reload runs as a task of its own: a client that goes away
/// mid-way (dropping the request) cannot cut it between stopping the old groups and starting
/// the new ones.
async fn reload(r: &Reloadable) -> Response {
    let r = r.clone();
    match tokio::spawn(async move { reload_now(&r).await }).await {
        Ok(response) => response,
        Err(error) => {
            tracing::error!(%error, "reload task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "reload failed\n").into_response()
        }
    }
}

async fn reload_now(r: &Reloadable) -> Response {
    if let Err(e) = reload_alertmanager(r) {
        tracing::error!(error = %e, "Alertmanager configuration refused; the previous one stays");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response();
    }
    let rules = &r.rules;
    match rules.reload().await {
        Ok(groups) => {
            tracing::info!(groups, "rule files reloaded");
            (StatusCode::OK, "").into_response()
        }
        Err(errors) => {
            let text = errors.join("\n");
            tracing::error!(errors = %text, "rule files refused; the previous rules keep running");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {text}\n"),
            )
                .into_response()
        }
    }
}

fn reload_alertmanager(r: &Reloadable) -> Result<(), String> {
    let text = match &r.alertmanager_config {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("failed to read {}: {e}", path.display()))?,
        ),
        None => None,
    };
    r.alertmanagers
        .reload(text)
        .map_err(|e| match &r.alertmanager_config {
            Some(path) => format!("{}: {e}", path.display()),
            None => e,
        })
}

/// Reloads on every SIGHUP, as Prometheus and Alertmanager do.
async fn reload_on_sighup(rules: &Reloadable) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("received SIGHUP");
        let _ = reload(rules).await;
    }
}

/// The page `/` answers until the web UI replaces it: what is running and where its APIs are.
fn index_page(otlp_grpc: std::net::SocketAddr, otlp_http: std::net::SocketAddr) -> String {
    include_str!("index.html")
        .replace("{version}", env!("CARGO_PKG_VERSION"))
        .replace("{otlp_grpc}", &otlp_grpc.to_string())
        .replace("{otlp_http}", &otlp_http.to_string())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let grpc_listener = bind(config.otlp_grpc_addr, "otlp grpc").await?;
    let otlp_http_listener = bind(config.otlp_http_addr, "otlp http").await?;
    let http_listener = bind(config.http_addr, "http api").await?;
    let http_addr = http_listener.local_addr()?;
    println!(
        "vigil listening: otlp_grpc={} otlp_http={} http={}",
        grpc_listener.local_addr()?,
        otlp_http_listener.local_addr()?,
        http_listener.local_addr()?
    );
    tracing::info!(
        otlp_grpc = %grpc_listener.local_addr()?,
        otlp_http = %otlp_http_listener.local_addr()?,
        http = %http_listener.local_addr()?,
        data_dir = %config.data_dir.display(),
        "vigil starting"
    );

    let (stop_ingest_tx, stop_ingest) = watch::channel(false);
    let (stop_api_tx, stop_api) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };

    let slot = ApiSlot {
        ready: Arc::new(AtomicBool::new(false)),
        api: Arc::new(RwLock::new(None)),
    };
    let index = index_page(
        grpc_listener.local_addr()?,
        otlp_http_listener.local_addr()?,
    );
    let base = Router::new()
        .route("/", get(move || std::future::ready(Html(index.clone()))))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(|| async { telemetry::render_metrics() }))
        .fallback(dispatch)
        .with_state(slot.clone());
    let api_server = tokio::spawn(
        axum::serve(http_listener, base)
            .with_graceful_shutdown(stopped(stop_api.clone()))
            .into_future(),
    );

    let engine = Engine::open(
        engine_config(&config),
        Arc::new(common::SystemClock),
        Arc::new(ingest::convert::OtlpDecoder),
    )
    .await
    .context("failed to open the storage engine")?;

    let view: Arc<dyn ReadView> = Arc::clone(&engine) as _;
    let executor = Arc::new(
        query::QueryExecutor::new(config.query.threads)
            .context("failed to start the query runtime")?,
    );
    let sink: Arc<dyn Sink> = Arc::clone(&engine) as _;
    let generator = Arc::new(ingest::generator::Generator::new(
        config.generator.to_config(),
    ));
    let ingest_state = Arc::new(
        ingest::IngestState::new(
            sink,
            ingest::IngestLimits {
                max_request_bytes: config.limits.max_request_bytes,
                max_inflight_bytes: config.limits.max_inflight_bytes,
                convert: ingest::convert::ConvertLimits {
                    max_label_value_bytes: config.limits.max_label_value_bytes,
                },
            },
        )
        .with_generator(Arc::clone(&generator)),
    );
    let prometheus = Arc::new(query::PromEngine::new(
        Arc::clone(&view),
        Arc::clone(&executor),
        query::PromLimits {
            options: promql::Options {
                lookback_ms: config.query.lookback_delta.as_millis() as i64,
                max_samples: config.query.max_samples,
                timeout: config.query.timeout,
                ..Default::default()
            },
            ..Default::default()
        },
    ));
    let sql = Arc::new(query::SqlEngine::new(view, executor));
    let loki = Arc::new(query::LokiEngine::new(
        Arc::clone(&sql),
        query::LokiLimits {
            timeout: config.query.timeout,
            max_lines_read: config.loki.max_lines_read,
            max_entries_limit: config.loki.max_entries_limit,
            max_series: config.loki.max_query_series,
        },
        config.loki.promoted_resource_attributes.clone(),
    ));
    let sql_limits = query::SqlLimits {
        max_result_rows: config.query.max_rows,
        timeout: config.query.timeout,
    };
    let tempo = Arc::new(query::TempoEngine::new(
        Arc::clone(&sql),
        sql_limits.clone(),
    ));
    let jaeger = Arc::new(query::JaegerEngine::new(
        Arc::clone(&tempo),
        Arc::clone(&sql),
        sql_limits.clone(),
    ));
    let (stop_alerts_tx, stop_alerts) = watch::channel(false);
    let alertmanager_text = match &config.alerting.alertmanager_config {
        Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
            format!(
                "failed to read the Alertmanager configuration {}",
                path.display()
            )
        })?),
        None => None,
    };
    let notifier = alerting::alertmanager::notify::HttpNotifier::new(Duration::from_secs(30))
        .map_err(|e| anyhow::anyhow!("failed to build the notification client: {e}"))?;
    let alertmanagers = Arc::new(
        alerting::alertmanager::Alertmanagers::new(
            alertmanager_text,
            config
                .alerting
                .alertmanager_config
                .as_ref()
                .and_then(|p| p.parent())
                .map(std::path::Path::to_path_buf),
            Arc::new(notifier),
            &config.alerting.external_url,
            stop_alerts,
            Some(config.data_dir.join("alertmanager")),
        )
        .map_err(|e| match &config.alerting.alertmanager_config {
            Some(path) => anyhow::anyhow!("{}: {e}", path.display()),
            None => anyhow::anyhow!("{e}"),
        })?,
    );
    let rules = Arc::new(
        alerting::RuleManager::new(
            crate::rules::options(&config.alerting)?,
            alerting::engines::Engines {
                prometheus: Arc::clone(&prometheus),
                sql: Arc::clone(&sql),
                sql_limits: sql_limits.clone(),
                loki: Arc::clone(&loki),
                tempo: Arc::clone(&tempo),
                sink: Arc::new(crate::rules::IngestSink(Arc::clone(&ingest_state))),
            },
        )
        .with_alert_sink(if config.alerting.alertmanagers.is_empty() {
            Arc::clone(&alertmanagers) as _
        } else {
            Arc::new(
                alerting::alertmanager::notify::RemoteAlertmanagers::new(
                    config.alerting.alertmanagers.clone(),
                    Duration::from_secs(10),
                )
                .map_err(|e| anyhow::anyhow!("failed to build the Alertmanager client: {e}"))?,
            ) as _
        }),
    );
    let reloadable = Reloadable {
        rules: Arc::clone(&rules),
        alertmanagers: Arc::clone(&alertmanagers),
        alertmanager_config: config.alerting.alertmanager_config.clone(),
    };
    match rules.reload().await {
        Ok(groups) => tracing::info!(groups, "rule files loaded"),
        Err(errors) => anyhow::bail!("rule files refused:\n{}", errors.join("\n")),
    }
    let api = query::sql_router(sql, sql_limits)
        .merge(query::prometheus_router(prometheus))
        .merge(alerting::rules_router(Arc::clone(&rules)))
        .merge(alerting::alertmanager::alertmanager_router(Arc::clone(
            &alertmanagers,
        )))
        .route(
            "/-/reload",
            post({
                let r = reloadable.clone();
                move || async move { reload(&r).await }
            }),
        )
        .merge(ingest::remote_write_router(Arc::clone(&ingest_state)))
        .merge(query::loki_router(Arc::clone(&loki)))
        .merge(query::tempo_router(tempo))
        .merge(query::jaeger_router(jaeger))
        .merge(ingest::loki_push_router(Arc::clone(&ingest_state)))
        .route(
            "/api/v1/admin/flush",
            post({
                let engine = Arc::clone(&engine);
                move || async move {
                    match engine.flush_all().await {
                        Ok(()) => (StatusCode::OK, "flushed\n").into_response(),
                        Err(error) => {
                            tracing::error!(%error, "admin flush failed");
                            (StatusCode::INTERNAL_SERVER_ERROR, "flush failed\n").into_response()
                        }
                    }
                }
            }),
        );
    *slot.api.write() = Some(api);
    slot.ready.store(true, Ordering::Release);

    let grpc_server = tokio::spawn(ingest::serve_grpc(
        grpc_listener,
        Arc::clone(&ingest_state),
        stopped(stop_ingest.clone()),
    ));
    let http_server = tokio::spawn(
        axum::serve(
            otlp_http_listener,
            ingest::http_router(Arc::clone(&ingest_state)),
        )
        .with_graceful_shutdown(stopped(stop_ingest.clone()))
        .into_future(),
    );
    // Recent metrics samples back into memory for queries, off the start-up path.
    let warm = Arc::clone(&engine);
    tokio::spawn(async move { warm.warm_hot().await });
    let flusher = tokio::spawn(Arc::clone(&engine).run_flusher(
        config.storage.flush_check_interval,
        stopped(stop_ingest.clone()),
    ));
    let compactor = tokio::spawn(Arc::clone(&engine).run_compactor(stopped(stop_ingest.clone())));
    tracing::info!("vigil ready");

    let self_watch = config.alerting.self_watch.then(|| {
        tokio::spawn(crate::selfwatch::run(
            Arc::clone(&ingest_state),
            config.data_dir.clone(),
            http_addr.to_string(),
            config.alerting.self_watch_interval,
            stop_ingest.clone(),
        ))
    });
    let generating = config.generator.enabled.then(|| {
        tokio::spawn(crate::generator::run(
            Arc::clone(&ingest_state),
            Arc::clone(&generator),
            stop_ingest.clone(),
        ))
    });
    let reloader = tokio::spawn({
        let r = reloadable.clone();
        async move { reload_on_sighup(&r).await }
    });

    wait_for_signal().await;
    reloader.abort();
    if let Some(task) = self_watch {
        task.abort();
    }
    // Rules first: their last writes go through the ingest path that stops next.
    rules.stop().await;
    let _ = stop_alerts_tx.send(true);
    let _ = stop_ingest_tx.send(true);
    // The generator writes its series once more on the way out.
    if let Some(task) = generating {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let grace = Duration::from_secs(30);
    for (name, outcome) in [
        (
            "otlp grpc",
            tokio::time::timeout(grace, async {
                grpc_server.await.map(|r| r.map_err(anyhow::Error::from))
            })
            .await,
        ),
        (
            "otlp http",
            tokio::time::timeout(grace, async {
                http_server.await.map(|r| r.map_err(anyhow::Error::from))
            })
            .await,
        ),
    ] {
        match outcome {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::error!(%error, listener = name, "listener failed"),
            Ok(Err(error)) => tracing::error!(%error, listener = name, "listener task failed"),
            Err(_) => tracing::warn!(listener = name, "listener did not stop in time"),
        }
    }
    let _ = flusher.await;
    let _ = compactor.await;
    engine.shutdown().await.context("final flush failed")?;
    let _ = stop_api_tx.send(true);
    let _ = tokio::time::timeout(grace, api_server).await;
    tracing::info!("vigil stopped cleanly");
    Ok(())
}
