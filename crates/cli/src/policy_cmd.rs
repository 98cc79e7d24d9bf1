//! `errandless policy`: check benefit policies written as code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use errandless_policy::Policy;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files against the data standard: their shape, inputs, SQL expressions,
    /// types, conditions no one can meet, and their [[test]] examples. Prints `ok` per valid
    /// file, or each error as FILE:LINE:COL: message. Exits 0 when every file is valid, 1 when
    /// one is not.
    Check {
        /// The policy files (TOML).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

pub fn run(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Check { files } => {
            let mut invalid = false;
            for file in &files {
                match Policy::load(file) {
                    Ok(policy) => println!(
                        "ok {} ({}): {} examples checked against the inputs; not evaluated yet \
                         (the evaluator is not built)",
                        file.display(),
                        policy.id,
                        policy.examples.len()
                    ),
                    Err(errors) => {
                        invalid = true;
                        for e in errors {
                            eprintln!("{e}");
                        }
                    }
                }
            }
            ExitCode::from(u8::from(invalid))
        }
    }
}
