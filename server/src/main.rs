//! The `vigil` binary.

fn main() -> anyhow::Result<()> {
    server::cli_main()
}
