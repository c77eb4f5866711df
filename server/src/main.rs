//! The `vigil` binary.

/// jemalloc: ingest allocates and frees many small buffers per request, where glibc's malloc
/// spent about a sixth of the time.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc tuning, read once at start-up (an operator can still override it through the
/// `_RJEM_MALLOC_CONF` environment variable), see docs/0005: freed pages stay with the process
/// for a minute, not ten seconds (the head is rebuilt after every flush); the thread caches hold
/// up to 1 MiB blocks and more small ones (a request decodes into thousands of small strings
/// that are all freed together, which overflowed the default caches).
// SAFETY: jemalloc reads this symbol as `const char *` (a thin pointer, as `Option<&u8>` is) to
// a NUL-terminated option string, once, before the first allocation.
#[allow(non_upper_case_globals, unsafe_code)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: Option<&u8> = Some(&common::JEMALLOC_CONF[0]);

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
