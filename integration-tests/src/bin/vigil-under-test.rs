//! The `vigil` program, built here too under another name so the suite can start it through
//! `CARGO_BIN_EXE_vigil-under-test`; it mirrors `server/src/main.rs`.

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
