//! The ocpvault binary: parse, run, map the outcome to an exit code
//! (0 ok, 1 completed with findings or warnings, 2 error).

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(ocpvault::cli::main())
}
