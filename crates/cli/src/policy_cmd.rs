//! `errandless policy`: check benefit policies written as code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use errandless_policy::Policy;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files against the data standard: their shape, inputs, SQL expressions,
    /// types and conditions no one can meet, then run their [[test]] examples on DataFusion.
    /// Prints `ok` per valid file with the number of examples run, or each error as
    /// FILE:LINE:COL: message. Exits 0 when every file is valid, 1 when one is not.
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
                let name = file.display().to_string();
                let checked = Policy::load(file).and_then(|policy| {
                    errandless_evaluation::check_examples(&policy, &name).map(|n| (policy, n))
                });
                match checked {
                    Ok((policy, run)) => {
                        println!("ok {name} ({}): {run} examples run", policy.id)
                    }
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
