//! The `vigil` binary.

/// jemalloc: ingest allocates and frees many small buffers per request, where glibc's malloc
/// spent about a sixth of the time.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
