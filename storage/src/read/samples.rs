//! Sample runs for a time window, straight from storage: the head, the hot window of recent
//! samples and the metrics segments, without a SQL plan.
//!
//! A segment's index holds each series' run of rows (`series_id` runs: samples are sorted by
//! series, then time); the page index of `timestamp_ms` narrows each run to the pages whose
//! time range meets the window; one `RowSelection` then reads those rows of `timestamp_ms` and
//! the value columns only. Footers (with their page indexes) are decoded once per segment and
//! kept, as segment files never change. A segment without a usable index is read in full and
//! filtered.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, UInt64Type};
use bytes::Bytes;
use common::hash::IdMap;
use common::schema::SAMPLES;
use common::Tenant;
use futures::future::BoxFuture;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::ObjectStoreExt;
use parking_lot::Mutex;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData, ParquetMetaDataReader};

use super::view::ReadView;
use crate::manifest::SegmentMeta;
use crate::samples_layout;
use crate::{Error, Result};

/// Decoded footers kept at most (segments are immutable under unique paths, so entries never go
/// stale; those of compacted-away segments age out). A footer of a 7M-row samples segment with
/// its page index and time sample holds about 0.5 MB.
const MAX_FOOTERS: usize = 1024;
/// Ranges of a file in an object store closer than this are read as one.
const COALESCE_GAP: u64 = 64 * 1024;
/// The same for a file read in place: a system call costs about what copying a few pages does,
/// and a selector's series are scattered through a segment sorted by series id, so a wide gap
/// read whole column chunks (73 MB for 309 series of 5,253 over 23 h, instead of their pages).
const LOCAL_COALESCE_GAP: u64 = 4 * 1024;
/// One row in this many has its timestamp kept per segment (8 bytes per 128 rows).
const TIME_SAMPLE_ROWS: u64 = 128;
/// Rows per decoded batch.
const BATCH_ROWS: usize = 64 * 1024;

/// A segment file in the object store, for the Parquet reader.
struct StoreFile {
    store: Arc<dyn object_store::ObjectStore>,
    path: Path,
    size: u64,
    /// The file itself when the store is the local file system: a selection's few ranges are
    /// then read in place (mostly from the page cache) instead of through a blocking task each.
    local: Option<std::path::PathBuf>,
}

/// `ranges` of the file at `path`, read in place.
fn read_local(
    path: &std::path::Path,
    ranges: &[std::ops::Range<u64>],
) -> std::io::Result<Vec<Bytes>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    ranges
        .iter()
        .map(|r| {
            let mut buf = vec![0u8; (r.end - r.start) as usize];
            file.read_exact_at(&mut buf, r.start)?;
            Ok(Bytes::from(buf))
        })
        .collect()
}

fn store_error(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreFile {
    fn get_bytes(
        &mut self,
        range: std::ops::Range<u64>,
    ) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        Box::pin(async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(store_error)
        })
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        Box::pin(async move {
            // A selection asks for thousands of small page ranges; reading neighbours together
            // turns them into a few reads (a local store does one system call per range).
            let mut order: Vec<usize> = (0..ranges.len()).collect();
            order.sort_by_key(|&i| ranges[i].start);
            let gap = if self.local.is_some() {
                LOCAL_COALESCE_GAP
            } else {
                COALESCE_GAP
            };
            let mut merged: Vec<std::ops::Range<u64>> = Vec::new();
            for &i in &order {
                let r = &ranges[i];
                match merged.last_mut() {
                    Some(m) if r.start <= m.end + gap => m.end = m.end.max(r.end),
                    _ => merged.push(r.clone()),
                }
            }
            // A file not found in place (a path the store maps otherwise) goes through it.
            let fetched = match self.local.as_deref().map(|f| read_local(f, &merged)) {
                Some(Ok(fetched)) => fetched,
                _ => self
                    .store
                    .get_ranges(&self.path, &merged)
                    .await
                    .map_err(store_error)?,
            };
            Ok(ranges
                .iter()
                .map(|r| {
                    let j = merged.partition_point(|m| m.start <= r.start) - 1;
                    let base = merged[j].start;
                    fetched[j].slice((r.start - base) as usize..(r.end - base) as usize)
                })
                .collect())
        })
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        Box::pin(async move {
            let policy = options.map_or(PageIndexPolicy::Optional, |o| o.offset_index_policy());
            let size = self.size;
            let meta = ParquetMetaDataReader::new()
                .with_page_index_policy(policy)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(meta))
        })
    }
}

/// Reads samples of chosen series from the head and the segments of a view.
pub struct SampleReader {
    view: Arc<dyn ReadView>,
    footers: Mutex<Footers>,
}

/// Footers by segment path, the oldest dropped first beyond [`MAX_FOOTERS`].
#[derive(Default)]
struct Footers {
    map: HashMap<String, Arc<Footer>>,
    order: std::collections::VecDeque<String>,
}

/// What is kept of a segment between queries: its footer (page index included) and the
/// timestamp of every [`TIME_SAMPLE_ROWS`]-th row, which narrows a series' run of rows to a
/// window without decoding the run's timestamps.
struct Footer {
    meta: ArrowReaderMetadata,
    times: tokio::sync::OnceCell<Arc<Vec<i64>>>,
}

/// A run of rows of one series in a segment: the series' place in the request, and rows
/// `[start, end)` of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    at: usize,
    start: u64,
    end: u64,
}

/// Samples read so far, per requested series, and their count against the budget.
struct Collected {
    series: Vec<Vec<(i64, f64)>>,
    total: usize,
    budget: usize,
}

impl Collected {
    fn push(&mut self, at: usize, t: i64, v: f64) -> Result<()> {
        self.total += 1;
        if self.total > self.budget {
            return Err(Error::TooManySamples { limit: self.budget });
        }
        self.series[at].push((t, v));
        Ok(())
    }

    /// [`Collected::push`] for each of the samples `ts`/`vs` of one series in `[lo, hi]`.
    fn extend(&mut self, at: usize, ts: &[i64], vs: &[f64], lo: i64, hi: i64) -> Result<()> {
        let list = &mut self.series[at];
        let before = list.len();
        list.extend(
            ts.iter()
                .zip(vs)
                .filter(|(&t, _)| t >= lo && t <= hi)
                .map(|(&t, &v)| (t, v)),
        );
        self.total += list.len() - before;
        if self.total > self.budget {
            return Err(Error::TooManySamples { limit: self.budget });
        }
        Ok(())
    }
}

impl std::fmt::Debug for SampleReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleReader")
            .field("footers", &self.footers.lock().map.len())
            .finish_non_exhaustive()
    }
}

impl SampleReader {
    pub fn new(view: Arc<dyn ReadView>) -> Self {
        Self {
            view,
            footers: Mutex::default(),
        }
    }

    /// The view read from.
    pub fn view(&self) -> &Arc<dyn ReadView> {
        &self.view
    }

    /// The samples in `[lo, hi]` of each series of `ids`, in time order (one per timestamp: the
    /// first one read), at most `budget` in all.
    pub async fn read(
        &self,
        tenant: &Tenant,
        ids: &[u64],
        lo: i64,
        hi: i64,
        budget: usize,
    ) -> Result<Vec<Vec<(i64, f64)>>> {
        let mut got = Collected {
            series: vec![Vec::new(); ids.len()],
            total: 0,
            budget,
        };
        if ids.is_empty() || lo > hi {
            return Ok(got.series);
        }
        if let Some(read) = self.view.metric_samples(tenant, ids, lo, hi) {
            // Per series: the flushed samples from memory or the segments, then the head's.
            match read.hot {
                Some(hot) => {
                    got.total = hot.iter().map(Vec::len).sum();
                    if got.total > budget {
                        return Err(Error::TooManySamples { limit: budget });
                    }
                    got.series = hot;
                }
                None if !read.segments.is_empty() => {
                    let segments: Vec<&SegmentMeta> = read.segments.iter().collect();
                    self.read_segments(&segments, ids, lo, hi, &mut got).await?;
                }
                None => {}
            }
            got.total += read.head.iter().map(Vec::len).sum::<usize>();
            if got.total > budget {
                return Err(Error::TooManySamples { limit: budget });
            }
            for (list, head) in got.series.iter_mut().zip(read.head) {
                if list.is_empty() {
                    *list = head;
                } else {
                    list.extend(head);
                }
            }
        } else {
            let snapshot = self.view.snapshot(tenant, SAMPLES);
            let segments = snapshot
                .segments
                .iter()
                .filter(|seg| seg.max_time >= lo && seg.min_time <= hi);
            let segments: Vec<&SegmentMeta> = segments.collect();
            self.read_segments(&segments, ids, lo, hi, &mut got).await?;
            let at: IdMap<usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
            for b in &snapshot.head {
                read_batch(b, &at, lo, hi, &mut got)?;
            }
        }
        for s in &mut got.series {
            if !s.windows(2).all(|w| w[0].0 < w[1].0) {
                s.sort_by_key(|p| p.0);
                s.dedup_by_key(|p| p.0);
            }
        }
        Ok(got.series)
    }

    /// Whether each series of `ids` (sorted) may have samples in `[lo, hi]`: it has a row in a
    /// head batch in that window, or a run in a segment whose time range meets it. Segments
    /// answer as a whole, as Prometheus's blocks do for its series API.
    pub async fn present(
        &self,
        tenant: &Tenant,
        ids: &[u64],
        lo: i64,
        hi: i64,
    ) -> Result<Vec<bool>> {
        let mut out = vec![false; ids.len()];
        if ids.is_empty() || lo > hi {
            return Ok(out);
        }
        let head = self.view.head_presence(tenant, ids, lo, hi);
        let snapshot = self.view.snapshot(tenant, SAMPLES);
        for seg in &snapshot.segments {
            if seg.max_time < lo || seg.min_time > hi {
                continue;
            }
            let index = self.view.segment_index(seg).await;
            let Some(col) = index.as_ref().and_then(|ix| ix.ids("series_id")) else {
                // Without an index the segment may hold any series.
                out.iter_mut().for_each(|p| *p = true);
                return Ok(out);
            };
            for (p, id) in out.iter_mut().zip(ids) {
                *p = *p || col.runs(&id.to_be_bytes()).next().is_some();
            }
        }
        if let Some(head) = head {
            for (p, h) in out.iter_mut().zip(head) {
                *p = *p || h;
            }
            return Ok(out);
        }
        let at: IdMap<usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        for b in &snapshot.head {
            batch_rows(b, &at, lo, hi, |series, _, _| {
                out[series] = true;
                Ok(())
            })?;
        }
        Ok(out)
    }

    async fn footer(&self, seg: &SegmentMeta) -> Result<(Arc<Footer>, StoreFile)> {
        let mut reader = StoreFile {
            store: self.view.object_store(),
            path: Path::from(seg.path.as_str()),
            size: seg.bytes,
            local: self.view.local_root().map(|root| root.join(&seg.path)),
        };
        if let Some(f) = self.footers.lock().map.get(&seg.path) {
            return Ok((Arc::clone(f), reader));
        }
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load_async(&mut reader, options).await?;
        let footer = Arc::new(Footer {
            meta,
            times: tokio::sync::OnceCell::new(),
        });
        let mut cache = self.footers.lock();
        if !cache.map.contains_key(&seg.path) {
            while cache.map.len() >= MAX_FOOTERS {
                let Some(oldest) = cache.order.pop_front() else {
                    break;
                };
                cache.map.remove(&oldest);
            }
            cache.order.push_back(seg.path.clone());
            cache.map.insert(seg.path.clone(), Arc::clone(&footer));
        }
        Ok((footer, reader))
    }

    /// The timestamp of every [`TIME_SAMPLE_ROWS`]-th row of a segment, read once.
    async fn sampled_times(
        &self,
        seg: &SegmentMeta,
        footer: &Footer,
        ts_col: usize,
    ) -> Result<Arc<Vec<i64>>> {
        let times = footer
            .times
            .get_or_try_init(|| async {
                let (_, reader) = self.footer(seg).await?;
                let schema = footer.meta.metadata().file_metadata().schema_descr_ptr();
                let mut stream =
                    ParquetRecordBatchStreamBuilder::new_with_metadata(reader, footer.meta.clone())
                        .with_projection(ProjectionMask::leaves(&schema, [ts_col]))
                        .with_batch_size(BATCH_ROWS)
                        .build()?;
                let mut out = Vec::new();
                let mut row = 0u64;
                while let Some(b) = stream.try_next().await? {
                    let ts = b
                        .column(0)
                        .as_primitive_opt::<Int64Type>()
                        .ok_or_else(|| Error::Read("unexpected samples layout".into()))?
                        .values();
                    let first = (TIME_SAMPLE_ROWS - row % TIME_SAMPLE_ROWS) % TIME_SAMPLE_ROWS;
                    out.extend(
                        ts.iter()
                            .skip(first as usize)
                            .step_by(TIME_SAMPLE_ROWS as usize),
                    );
                    row += ts.len() as u64;
                }
                Ok::<_, Error>(Arc::new(out))
            })
            .await?;
        Ok(Arc::clone(times))
    }

    /// What reading `seg` for `ids` in `[lo, hi]` takes: its footer, the columns, and the runs
    /// of rows of the series asked for (`None`: nothing of them in the window).
    async fn plan_segment(
        &self,
        seg: &SegmentMeta,
        ids: &[u64],
        lo: i64,
        hi: i64,
    ) -> Result<Option<SegmentPlan>> {
        let index = self.view.segment_index(seg).await;
        let runs = index.as_ref().and_then(|ix| {
            let col = ix.ids("series_id")?;
            let mut runs: Vec<Run> = Vec::new();
            for (i, id) in ids.iter().enumerate() {
                runs.extend(col.runs(&id.to_be_bytes()).map(|(s, n)| Run {
                    at: i,
                    start: u64::from(s),
                    end: u64::from(s) + u64::from(n),
                }));
            }
            runs.sort_by_key(|r| r.start);
            // Distinct series never share rows; anything else is read in full.
            runs.windows(2)
                .all(|w| w[0].end <= w[1].start)
                .then_some(runs)
        });
        let (footer, reader) = self.footer(seg).await?;
        let meta = footer.meta.clone();
        let schema = meta.metadata().file_metadata().schema_descr_ptr();
        let column = |name: &str| {
            (0..schema.num_columns())
                .find(|&i| schema.column(i).name() == name)
                .ok_or_else(|| Error::Read(format!("segment {} has no {name}", seg.path)))
        };
        let (id_col, ts_col) = (column("series_id")?, column("timestamp_ms")?);
        // The value: one column (layout 1) or integer, scale and float (layout 2).
        let value_cols: Vec<usize> = match column("value") {
            Ok(c) => vec![c],
            Err(_) => {
                let floats = column(samples_layout::VALUE_FLOAT)?;
                let mut cols = vec![
                    column(samples_layout::VALUE_INT)?,
                    column(samples_layout::VALUE_SCALE)?,
                ];
                // Most files have no float values: their all-null column is not read.
                if has_values(meta.metadata(), floats) {
                    cols.push(floats);
                }
                cols
            }
        };
        let Some(runs) = runs else {
            tracing::warn!(segment = %seg.path, "no series index; reading the whole segment");
            let cols = [id_col, ts_col]
                .into_iter()
                .chain(value_cols.iter().copied());
            let mask = ProjectionMask::leaves(&schema, cols);
            return Ok(Some(SegmentPlan {
                reader,
                meta,
                mask,
                rows: None,
            }));
        };
        let times = self.sampled_times(seg, &footer, ts_col).await?;
        let runs: Vec<Run> = runs
            .iter()
            .filter_map(|r| narrow(&times, *r, lo, hi))
            .collect();
        let (groups, runs) = split_at_groups(meta.metadata(), &runs);
        if runs.is_empty() {
            return Ok(None);
        }
        let selection = selection(meta.metadata(), &groups, &runs);
        let cols = std::iter::once(ts_col).chain(value_cols.iter().copied());
        let mask = ProjectionMask::leaves(&schema, cols);
        Ok(Some(SegmentPlan {
            reader,
            meta,
            mask,
            rows: Some((groups, selection, runs)),
        }))
    }

    /// Reads the samples of `seg` that its plan selects into `got`.
    async fn read_segment(
        plan: SegmentPlan,
        at: &IdMap<usize>,
        lo: i64,
        hi: i64,
        got: &mut Collected,
    ) -> Result<()> {
        let SegmentPlan {
            reader,
            meta,
            mask,
            rows,
        } = plan;
        let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, meta)
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS);
        let Some((groups, selection, runs)) = rows else {
            let mut stream = builder.build()?;
            while let Some(b) = stream.try_next().await? {
                read_batch(&b, at, lo, hi, got)?;
            }
            return Ok(());
        };
        let mut stream = builder
            .with_row_groups(groups)
            .with_row_selection(selection)
            .build()?;
        // Batches hold the selected rows in file order: run after run.
        let mut runs = runs.iter();
        let mut current = runs.next().map(|r| (r.at, r.end - r.start));
        while let Some(b) = stream.try_next().await? {
            let Some(ts) = b.column(0).as_primitive_opt::<Int64Type>() else {
                return Err(Error::Read("unexpected samples layout".into()));
            };
            let vs = samples_layout::values(&b).map_err(|e| Error::Read(e.to_string()))?;
            let (ts, vs) = (ts.values(), vs.values());
            let mut i = 0;
            while i < ts.len() {
                let Some((series, left)) = current.as_mut() else {
                    return Err(Error::Read("more rows than selected".into()));
                };
                let take = (*left as usize).min(ts.len() - i);
                got.extend(*series, &ts[i..i + take], &vs[i..i + take], lo, hi)?;
                i += take;
                *left -= take as u64;
                if *left == 0 {
                    current = runs.next().map(|r| (r.at, r.end - r.start));
                }
            }
        }
        Ok(())
    }

    /// Reads `segments` for `ids` in `[lo, hi]` into `got`: every segment planned first, so
    /// each series' list is allocated once for the rows all of them select (grown segment by
    /// segment, the lists were copied again at each).
    async fn read_segments(
        &self,
        segments: &[&SegmentMeta],
        ids: &[u64],
        lo: i64,
        hi: i64,
        got: &mut Collected,
    ) -> Result<()> {
        let mut plans = Vec::new();
        for seg in segments {
            plans.extend(self.plan_segment(seg, ids, lo, hi).await?);
        }
        let mut rows = vec![0usize; ids.len()];
        for (_, _, runs) in plans.iter().filter_map(|p| p.rows.as_ref()) {
            for r in runs {
                rows[r.at] += (r.end - r.start) as usize;
            }
        }
        for (list, n) in got.series.iter_mut().zip(rows) {
            list.reserve(n);
        }
        let at: IdMap<usize> = ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
        for plan in plans {
            Self::read_segment(plan, &at, lo, hi, got).await?;
        }
        Ok(())
    }
}

/// How one segment is read: its file, footer and columns, and the row groups, selection and
/// runs of rows of the series asked for (`None`: the whole file, filtered row by row).
struct SegmentPlan {
    reader: StoreFile,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    rows: Option<(Vec<usize>, RowSelection, Vec<Run>)>,
}

/// Whether column `c` of a file may hold a non-null value (statistics say otherwise only when
/// every row group counts all its rows as null).
fn has_values(meta: &ParquetMetaData, c: usize) -> bool {
    meta.row_groups().iter().any(|rg| {
        let col = rg.column(c);
        col.statistics()
            .and_then(|s| s.null_count_opt())
            .is_none_or(|nulls| nulls < rg.num_rows() as u64)
    })
}

/// Rows of a samples batch (head, or a segment read in full) whose series is asked for and
/// whose time is in `[lo, hi]`, collected.
fn read_batch(
    b: &RecordBatch,
    at: &IdMap<usize>,
    lo: i64,
    hi: i64,
    got: &mut Collected,
) -> Result<()> {
    batch_rows(b, at, lo, hi, |series, t, v| got.push(series, t, v))
}

/// Calls `f(series place, time, value)` for the rows of a samples batch whose series is asked
/// for and whose time is in `[lo, hi]`.
fn batch_rows(
    b: &RecordBatch,
    at: &IdMap<usize>,
    lo: i64,
    hi: i64,
    mut f: impl FnMut(usize, i64, f64) -> Result<()>,
) -> Result<()> {
    let col = |name: &str| {
        b.column_by_name(name)
            .ok_or_else(|| Error::Read(format!("samples batch without {name}")))
    };
    let (Some(ids), Some(ts)) = (
        col("series_id")?.as_primitive_opt::<UInt64Type>(),
        col("timestamp_ms")?.as_primitive_opt::<Int64Type>(),
    ) else {
        return Err(Error::Read("unexpected samples layout".into()));
    };
    let vs = samples_layout::values(b).map_err(|e| Error::Read(e.to_string()))?;
    let (ids, ts, vs) = (ids.values(), ts.values(), vs.values());
    for i in 0..ids.len() {
        if ts[i] < lo || ts[i] > hi {
            continue;
        }
        if let Some(&series) = at.get(&ids[i]) {
            f(series, ts[i], vs[i])?;
        }
    }
    Ok(())
}

/// The part of `run` (rows in time order) that can hold times in `[lo, hi]`, from the sampled
/// timestamps `times` (row `k * TIME_SAMPLE_ROWS` has time `times[k]`): rows before the last
/// sampled row below `lo`, and from the first sampled row above `hi`, are left out.
fn narrow(times: &[i64], run: Run, lo: i64, hi: i64) -> Option<Run> {
    let step = TIME_SAMPLE_ROWS;
    // The sampled rows inside the run: k in [k0, k1).
    let k0 = run.start.div_ceil(step) as usize;
    let k1 = (run.end.div_ceil(step) as usize).min(times.len());
    if k0 >= k1 {
        return Some(run);
    }
    let sampled = &times[k0..k1];
    let below = sampled.partition_point(|&t| t < lo);
    let start = match below {
        0 => run.start,
        n => run.start.max((k0 + n - 1) as u64 * step + 1),
    };
    let upto = sampled.partition_point(|&t| t <= hi);
    let end = if upto < sampled.len() {
        run.end.min((k0 + upto) as u64 * step)
    } else {
        run.end
    };
    (start < end).then_some(Run { start, end, ..run })
}

/// The row groups `runs` touch, and the runs split at row-group bounds (file rows, in order).
fn split_at_groups(meta: &ParquetMetaData, runs: &[Run]) -> (Vec<usize>, Vec<Run>) {
    let mut groups = Vec::new();
    let mut out = Vec::new();
    let mut base = 0u64;
    for (g, rg) in meta.row_groups().iter().enumerate() {
        let (first, last) = (base, base + rg.num_rows() as u64);
        base = last;
        let from = out.len();
        let within = runs.partition_point(|r| r.end <= first);
        for r in runs[within..].iter().take_while(|r| r.start < last) {
            let (s, e) = (r.start.max(first), r.end.min(last));
            if s < e {
                out.push(Run {
                    at: r.at,
                    start: s,
                    end: e,
                });
            }
        }
        if out.len() > from {
            groups.push(g);
        }
    }
    (groups, out)
}

/// The row selection over the rows of `groups` (concatenated) that picks `runs`.
fn selection(meta: &ParquetMetaData, groups: &[usize], runs: &[Run]) -> RowSelection {
    let mut starts = Vec::with_capacity(meta.num_row_groups());
    let mut base = 0u64;
    for rg in meta.row_groups() {
        starts.push(base);
        base += rg.num_rows() as u64;
    }
    let mut selectors = Vec::new();
    // File row of the next selector, and the row of the concatenation it is at.
    let mut runs = runs.iter().peekable();
    for &g in groups {
        let (first, last) = (starts[g], starts[g] + meta.row_group(g).num_rows() as u64);
        let mut pos = first;
        while let Some(r) = runs.peek() {
            if r.start >= last {
                break;
            }
            // Runs may overlap when two requested ids share rows (never for distinct series).
            let s = r.start.max(pos);
            if s > pos {
                selectors.push(RowSelector::skip((s - pos) as usize));
            }
            if r.end > s {
                selectors.push(RowSelector::select((r.end - s) as usize));
            }
            pos = pos.max(r.end);
            runs.next();
        }
        if last > pos {
            selectors.push(RowSelector::skip((last - pos) as usize));
        }
    }
    RowSelection::from(selectors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A narrowed run keeps every row of the run whose time is in the window.
        #[test]
        fn narrowing_keeps_every_row_in_the_window(
            gaps in proptest::collection::vec(0i64..50, 1..1500),
            start in 0u64..600,
            len in 1u64..1000,
            lo in 0i64..40_000,
            width in 0i64..20_000,
        ) {
            // Rows of one file: times increase within each run of 300 rows.
            let mut times = Vec::new();
            let mut t = 0;
            for (i, g) in gaps.iter().enumerate() {
                if i % 300 == 0 { t = 0; }
                t += g;
                times.push(t * 10);
            }
            let rows = times.len() as u64;
            let (start, end) = (start.min(rows - 1), (start + len).min(rows));
            // Sorted within the run only: force it.
            let mut run_times = times.clone();
            run_times[start as usize..end as usize].sort_unstable();
            let sampled: Vec<i64> = run_times.iter().copied().step_by(TIME_SAMPLE_ROWS as usize).collect();
            let hi = lo + width;
            let run = Run { at: 0, start, end };
            let inside: Vec<u64> = (start..end)
                .filter(|&r| (lo..=hi).contains(&run_times[r as usize]))
                .collect();
            match narrow(&sampled, run, lo, hi) {
                None => prop_assert!(inside.is_empty()),
                Some(n) => {
                    prop_assert!(n.start >= start && n.end <= end);
                    for r in inside {
                        prop_assert!(n.start <= r && r < n.end, "row {} outside {:?}", r, n);
                    }
                }
            }
        }
    }
}
