//! Vigil watches itself: every `alerting.self_watch_interval` its own metrics (the registry that
//! `/metrics` serves, plus the space of the data directory's disk) are written through the
//! remote-write path into the tenant `vigil`, where the built-in rule group
//! (`alerting/src/selfwatch.yml`) evaluates them (docs/0022).

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::Tenant;
use ingest::remote_write::{Label, Sample, TimeSeries, WriteRequest};
use ingest::IngestState;
use prometheus::proto::{MetricFamily, MetricType};
use prometheus::{register_int_gauge, IntGauge};
use tokio::sync::watch;

static AVAILABLE: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_data_dir_available_bytes",
        "bytes available to vigil on the data directory's file system"
    )
    .expect("metric registers once")
});

static SIZE: LazyLock<IntGauge> = LazyLock::new(|| {
    register_int_gauge!(
        "vigil_data_dir_size_bytes",
        "size of the data directory's file system"
    )
    .expect("metric registers once")
});

/// Available and total bytes of the file system holding `dir`.
#[allow(unsafe_code)]
fn disk_space(dir: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string that outlives the call, and `st` points to
    // writable memory of the type statvfs(3) fills; it is read only when the call succeeded.
    let st = unsafe {
        if libc::statvfs(path.as_ptr(), st.as_mut_ptr()) != 0 {
            return None;
        }
        st.assume_init()
    };
    let frag = st.f_frsize as u64;
    Some((st.f_bavail as u64 * frag, st.f_blocks as u64 * frag))
}

/// The samples of `families` at `t` (ms), as Prometheus would scrape them, with `job` and
/// `instance` labels.
fn series(families: &[MetricFamily], t: i64, instance: &str) -> Vec<TimeSeries> {
    let mut out = Vec::new();
    for f in families {
        for m in f.get_metric() {
            let mut base: Vec<Label> = m
                .get_label()
                .iter()
                .map(|l| Label {
                    name: l.name().to_string(),
                    value: l.value().to_string(),
                })
                .collect();
            base.push(Label {
                name: "job".into(),
                value: "vigil".into(),
            });
            base.push(Label {
                name: "instance".into(),
                value: instance.to_string(),
            });
            let mut push = |name: String, extra: Option<(&str, String)>, v: f64| {
                let mut labels = base.clone();
                labels.push(Label {
                    name: "__name__".into(),
                    value: name,
                });
                if let Some((k, val)) = extra {
                    labels.push(Label {
                        name: k.into(),
                        value: val,
                    });
                }
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                out.push(TimeSeries {
                    labels,
                    samples: vec![Sample {
                        value: v,
                        timestamp: t,
                    }],
                    exemplars: Vec::new(),
                });
            };
            let name = f.name();
            match f.get_field_type() {
                MetricType::COUNTER => push(name.into(), None, m.get_counter().get_value()),
                MetricType::GAUGE => push(name.into(), None, m.get_gauge().get_value()),
                // The registry holds no untyped metrics.
                MetricType::UNTYPED => {}
                MetricType::HISTOGRAM => {
                    let h = m.get_histogram();
                    for b in h.get_bucket() {
                        push(
                            format!("{name}_bucket"),
                            Some(("le", promql_float(b.upper_bound()))),
                            b.cumulative_count() as f64,
                        );
                    }
                    push(
                        format!("{name}_bucket"),
                        Some(("le", "+Inf".into())),
                        h.get_sample_count() as f64,
                    );
                    push(format!("{name}_sum"), None, h.get_sample_sum());
                    push(format!("{name}_count"), None, h.get_sample_count() as f64);
                }
                MetricType::SUMMARY => {
                    let s = m.get_summary();
                    for q in s.get_quantile() {
                        push(
                            name.into(),
                            Some(("quantile", promql_float(q.quantile()))),
                            q.value(),
                        );
                    }
                    push(format!("{name}_sum"), None, s.sample_sum());
                    push(format!("{name}_count"), None, s.sample_count() as f64);
                }
            }
        }
    }
    out
}

/// A bound as Prometheus's text format writes `le` and `quantile`.
fn promql_float(v: f64) -> String {
    if v == f64::INFINITY {
        "+Inf".into()
    } else {
        format!("{v}")
    }
}

/// Writes Vigil's metrics every `interval` until `stop`.
pub(crate) async fn run(
    state: Arc<IngestState>,
    data_dir: PathBuf,
    instance: String,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let tenant = match Tenant::new(alerting::manager::SELF_TENANT) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "self-watch tenant refused");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Some((available, size)) = disk_space(&data_dir) {
            AVAILABLE.set(i64::try_from(available).unwrap_or(i64::MAX));
            SIZE.set(i64::try_from(size).unwrap_or(i64::MAX));
        }
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let request = WriteRequest {
            timeseries: series(&prometheus::gather(), t, &instance),
            metadata: Vec::new(),
        };
        if let Err(e) = ingest::write_request(&state, tenant.clone(), &request).await {
            tracing::warn!(error = %e, "writing Vigil's own metrics failed");
        }
    }
}
