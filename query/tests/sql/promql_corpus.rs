//! Prometheus's PromQL test corpus through the server's read path: each script's series are
//! written through the storage engine's write path and queried through [`PromEngine`] (series
//! postings, the sample reader, the head, segments and the hot window), in three states: still
//! in the head; flushed to segments after every `load`, read through the hot window where it
//! covers them; flushed with the hot window off. Every case must come out exactly as it does
//! on the in-memory evaluator (same pass, same failure reason), whose own results
//! `promqltest`'s conformance test checks against its failure list.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use bytes::Bytes;
use common::schema::{samples_schema, series_fingerprint, SERIES};
use common::{ManualClock, Signal, Tenant};
use promql::value::Labels;
use promql::{Options, Query, QueryResult};
use promqltest::corpus::{corpus, test_files};
use promqltest::runner::{run_script, run_script_on, Backend};
use query::{PromEngine, PromLimits, QueryExecutor, Steps};
use serde_json::{json, Map, Value};
use storage::{Engine, EngineConfig, FsyncPolicy, HotConfig, PayloadDecoder, Rows, Sink, SyncFs};
use tempfile::TempDir;

use crate::fake_view::batch;

/// Where the data stands when queries run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Never flushed: every sample is read from the head.
    Head,
    /// Flushed after every `load`; the hot window (3 h back from the newest loaded sample)
    /// answers for recent samples, segments for the rest.
    FlushedHot,
    /// Flushed after every `load`, hot window off: every sample is read from segments.
    FlushedCold,
}

/// No replay happens here: each engine lives for one `clear` to the next.
#[derive(Debug)]
struct NoReplay;

impl PayloadDecoder for NoReplay {
    fn decode(&self, _signal: Signal, _payload: &[u8]) -> Result<Rows, String> {
        Err("the corpus backend never replays".into())
    }
}

/// Files are not fsynced: these tests are about reads, and thousands of flushes run.
#[derive(Debug)]
struct NoSync;

impl SyncFs for NoSync {
    fn sync_data(&self, _file: &std::fs::File, _path: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_file(&self, _path: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }
    fn sync_dir(&self, _dir: &std::path::Path) -> std::io::Result<()> {
        Ok(())
    }
}

/// The storage engine and the PromQL engine over it; a fresh pair for every `clear`.
struct Store {
    state: State,
    rt: tokio::runtime::Runtime,
    executor: Arc<QueryExecutor>,
    dir: TempDir,
    opened: usize,
    tenant: Tenant,
    engine: Option<Arc<Engine>>,
    prom: Option<Arc<PromEngine>>,
    clock: Arc<ManualClock>,
    /// The newest sample time loaded since the last `clear`.
    newest_ms: i64,
}

impl Store {
    fn new(state: State, executor: Arc<QueryExecutor>) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut store = Self {
            state,
            rt,
            executor,
            dir: tempfile::tempdir()?,
            opened: 0,
            tenant: Tenant::new("corpus")?,
            engine: None,
            prom: None,
            clock: Arc::new(ManualClock::new(0)),
            newest_ms: 0,
        };
        store.open().map_err(anyhow::Error::msg)?;
        Ok(store)
    }

    /// Opens an empty engine in a directory of its own, the clock at the epoch.
    fn open(&mut self) -> Result<(), String> {
        if let Some(engine) = self.engine.take() {
            self.rt
                .block_on(engine.shutdown())
                .map_err(|e| e.to_string())?;
        }
        self.opened += 1;
        let mut config = EngineConfig {
            data_dir: self.dir.path().join(self.opened.to_string()),
            hot: HotConfig {
                window_ms: if self.state == State::FlushedCold {
                    0
                } else {
                    HotConfig::default().window_ms
                },
                ..HotConfig::default()
            },
            flush_age: Duration::from_secs(365 * 86_400),
            ..EngineConfig::default()
        };
        config.wal.fsync = FsyncPolicy::Never;
        config.wal.sync = Arc::new(NoSync);
        self.clock = Arc::new(ManualClock::new(0));
        self.newest_ms = 0;
        let clock: Arc<dyn common::Clock> = Arc::clone(&self.clock) as _;
        let engine = self
            .rt
            .block_on(Engine::open(config, clock, Arc::new(NoReplay)))
            .map_err(|e| e.to_string())?;
        let view: Arc<dyn storage::ReadView> = Arc::clone(&engine) as _;
        self.prom = Some(Arc::new(PromEngine::new(
            view,
            Arc::clone(&self.executor),
            PromLimits::default(),
        )));
        self.engine = Some(engine);
        Ok(())
    }

    fn prom(&self) -> &Arc<PromEngine> {
        self.prom.as_ref().expect("an open engine")
    }
}

/// The `samples` and `series` rows of `series`.
fn rows(series: &[(Labels, Vec<(i64, f64)>)]) -> Result<Rows> {
    let (mut ids, mut names, mut times, mut values) = (vec![], vec![], vec![], vec![]);
    let mut series_rows = Vec::with_capacity(series.len());
    for (labels, samples) in series {
        let name = labels.name().unwrap_or("");
        let rest: Vec<(&str, &str)> = labels
            .pairs()
            .iter()
            .filter(|(k, _)| k != "__name__")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let id = series_fingerprint(name, rest.iter().copied());
        let map: Map<String, Value> = rest
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        series_rows.push(json!({
            "series_id": id,
            "metric_name": name,
            "labels": map,
            "metric_type": "gauge",
            "unit": "",
            "description": "",
        }));
        for &(t, v) in samples {
            ids.push(id);
            names.push(name);
            times.push(t);
            values.push(v);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(ids)),
        Arc::new(StringArray::from(names)),
        Arc::new(Int64Array::from(times)),
        Arc::new(Float64Array::from(values)),
    ];
    Ok(Rows {
        batch: RecordBatch::try_new(samples_schema(), columns)?,
        series: Some(batch(SERIES, &series_rows)?),
        exemplars: None,
    })
}

impl Backend for Store {
    fn clear(&mut self) -> Result<(), String> {
        self.open()
    }

    fn load(&mut self, series: Vec<(Labels, Vec<(i64, f64)>)>) -> Result<(), String> {
        if series.iter().all(|s| s.1.is_empty()) {
            return Ok(());
        }
        let rows = rows(&series).map_err(|e| e.to_string())?;
        let engine = Arc::clone(self.engine.as_ref().expect("an open engine"));
        let newest = series.iter().filter_map(|s| s.1.last()).map(|p| p.0).max();
        self.newest_ms = self.newest_ms.max(newest.unwrap_or(0));
        let tenant = self.tenant.clone();
        let flush = self.state != State::Head;
        // The clock stands at the newest sample, so the hot window holds the last 3 hours.
        let now_ns = self.newest_ms * 1_000_000;
        self.clock
            .advance(now_ns - common::Clock::now_nanos(self.clock.as_ref()));
        self.rt
            .block_on(async move {
                engine
                    .append(tenant, Signal::Metrics, Bytes::new(), rows)
                    .await?;
                if flush {
                    engine.flush_all().await?;
                }
                Ok::<_, storage::Error>(())
            })
            .map_err(|e| e.to_string())
    }

    fn instant(&mut self, query: &Query, opts: &Options, t_ms: i64) -> Result<QueryResult, String> {
        let prom = Arc::clone(self.prom());
        let tenant = self.tenant.clone();
        self.rt
            .block_on(prom.instant(tenant, query.clone(), t_ms, opts.clone()))
            .map_err(|e| e.to_string())
    }

    fn range(
        &mut self,
        query: &Query,
        opts: &Options,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, String> {
        let prom = Arc::clone(self.prom());
        let tenant = self.tenant.clone();
        let steps = Steps {
            start: start_ms,
            end: end_ms,
            step: step_ms,
        };
        self.rt
            .block_on(prom.range(tenant, query.clone(), steps, opts.clone()))
            .map_err(|e| e.to_string())
    }
}

#[test]
fn the_promql_corpus_answers_the_same_through_storage_in_every_state() -> Result<()> {
    let Some(dir) = corpus() else {
        eprintln!("skipped: no PromQL corpus (set VIGIL_PROMQL_CORPUS)");
        return Ok(());
    };
    let executor = Arc::new(QueryExecutor::new(1)?);
    let files = test_files(&dir);
    assert!(!files.is_empty(), "no .test files in {}", dir.display());
    for state in [State::Head, State::FlushedHot, State::FlushedCold] {
        let mut store = Store::new(state, Arc::clone(&executor))?;
        let (mut cases, mut passed) = (0, 0);
        let mut differ = Vec::new();
        for file in &files {
            let stem = file.file_stem().unwrap_or_default().to_string_lossy();
            let text = std::fs::read_to_string(file)?;
            let memory = run_script(&text).map_err(anyhow::Error::msg)?;
            store.clear().map_err(anyhow::Error::msg)?;
            let stored = run_script_on(&text, &mut store).map_err(anyhow::Error::msg)?;
            assert_eq!(memory.len(), stored.len(), "{stem}: cases run");
            for (m, s) in memory.iter().zip(&stored) {
                cases += 1;
                passed += usize::from(s.result.is_ok());
                if m != s {
                    differ.push(format!(
                        "{stem}:{} {}\n  memory: {:?}\n  storage: {:?}",
                        s.line, s.expr, m.result, s.result
                    ));
                }
            }
        }
        eprintln!("{state:?}: {passed} of {cases} cases pass through storage");
        assert!(
            differ.is_empty(),
            "{state:?}: {} cases answer differently through storage:\n{}",
            differ.len(),
            differ.join("\n")
        );
        assert!(cases > 900, "{state:?}: only {cases} cases ran");
    }
    Ok(())
}
