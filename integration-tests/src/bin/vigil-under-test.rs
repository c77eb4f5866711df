//! The `vigil` program, built here too under another name so the suite can start it through
//! `CARGO_BIN_EXE_vigil-under-test`; it mirrors `server/src/main.rs`.

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
pub static malloc_conf: Option<&u8> = Some(&b"dirty_decay_ms:60000,muzzy_decay_ms:60000,tcache_max:1048576,tcache_nslots_small_max:2048,lg_tcache_nslots_mul:3\0"[0]);

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
