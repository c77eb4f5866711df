//! The `vigil` binary.

/// jemalloc: ingest allocates and frees many small buffers per request, where glibc's malloc
/// spent about a sixth of the time.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc tuning, read once at start-up (an operator can still override it through the
/// `_RJEM_MALLOC_CONF` environment variable). Freed pages stay with the process for a minute
/// instead of ten seconds: the head is rebuilt after every flush, and returning its pages to the
/// kernel only to fault them back in zero-filled cost ~11% of a sustained log ingest run.
// SAFETY: jemalloc reads this symbol as `const char *` (a thin pointer, as `Option<&u8>` is) to
// a NUL-terminated option string, once, before the first allocation.
#[allow(non_upper_case_globals, unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: Option<&u8> = Some(&b"dirty_decay_ms:60000,muzzy_decay_ms:60000\0"[0]);

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
