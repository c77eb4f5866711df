//! Builds the index of a segment file with several block sizes and prints its size per column:
//! `cargo run --release -p storage --example index_stats -- FILE.parquet logs|spans [BLOCK_ROWS...]`

use std::time::Instant;

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use storage::index::{index_batches, IndexKind, IndexOptions, SegmentIndex};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: index_stats FILE.parquet logs|spans [BLOCK_ROWS...]")?;
    let kind = match args.next().as_deref() {
        Some("spans") => IndexKind::Spans,
        _ => IndexKind::Logs,
    };
    let blocks: Vec<u32> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    let file = std::fs::File::open(&path)?;
    let data_bytes = file.metadata()?.len();
    let batches = ParquetRecordBatchReaderBuilder::try_new(file)?
        .build()?
        .collect::<Result<Vec<_>, _>>()?;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    println!(
        "{path}: {rows} rows, {data_bytes} bytes ({:.2} B/row)",
        data_bytes as f64 / rows as f64
    );
    for block_rows in if blocks.is_empty() {
        vec![8192]
    } else {
        blocks
    } {
        let opts = IndexOptions {
            block_rows,
            ..Default::default()
        };
        let t = Instant::now();
        let bytes = index_batches(kind, &batches, &opts);
        let took = t.elapsed();
        println!(
            "block_rows={block_rows}: {} bytes = {:.2} B/row = {:.1}% of data; built in {took:.2?} ({:.0} rows/s)",
            bytes.len(),
            bytes.len() as f64 / rows as f64,
            100.0 * bytes.len() as f64 / data_bytes as f64,
            rows as f64 / took.as_secs_f64()
        );
        if let Ok(out) = std::env::var("INDEX_OUT") {
            std::fs::write(format!("{out}.{block_rows}"), &bytes)?;
        }
        let idx = SegmentIndex::decode(bytes.into())?;
        for name in idx.column_names() {
            if let Some(c) = idx.column(name) {
                let (dict, postings) = c.sizes();
                if dict + postings > 1000 {
                    println!(
                        "  {name}: {} terms, dictionary {dict} B, postings {postings} B",
                        c.len()
                    );
                }
            }
        }
    }
    Ok(())
}
