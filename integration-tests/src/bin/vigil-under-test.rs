//! The `vigil` program, built here too under another name so the suite can start it through `CARGO_BIN_EXE_vigil-under-test`.

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
