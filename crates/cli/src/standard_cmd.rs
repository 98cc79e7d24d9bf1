//! `errandless standard`: look up the unified data standard and check identifiers.

use std::process::ExitCode;

use clap::{Subcommand, ValueEnum};
use errandless_standards::{CitizenId, DivisionCode, Standard, Uscc};

#[derive(Debug, Subcommand)]
pub enum StandardCommand {
    /// List every data element, grouped by owning department.
    List,
    /// Show one data element, or one dataset (`department.dataset`), in full.
    Show {
        /// An element id such as `citizen_id`, or a dataset id such as `education.admission`.
        element: String,
    },
    /// Load and check the standard's data files from a directory laid out like the built-in
    /// one (`departments.toml`, `elements.toml`, `datasets/*.toml`). Names the file and line of
    /// the first problem; exits 1 if there is one.
    Validate {
        /// The directory to check.
        dir: std::path::PathBuf,
    },
    /// Check an identifier. Prints `valid`, or the rule that failed. Exits 0 when valid, 1 when
    /// invalid.
    Check {
        /// What kind of identifier VALUE is.
        kind: CheckKind,
        /// The value to check, exactly as written (quote it if it has spaces).
        value: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CheckKind {
    /// A GB 11643 citizen ID number (18 characters; a 15-digit legacy number is converted).
    Id,
    /// A GB 32100 unified social credit code.
    Uscc,
    /// A 12-digit statistical division code.
    Division,
}

pub fn run(cmd: StandardCommand, known_counties: &dyn Fn(u32) -> Option<bool>) -> ExitCode {
    let standard = Standard::builtin();
    match cmd {
        StandardCommand::List => {
            for dept in standard.departments() {
                let elements: Vec<_> = standard.elements().filter(|e| e.owner == dept.id).collect();
                if elements.is_empty() {
                    continue;
                }
                println!("{} ({})", dept.en, dept.zh);
                for e in elements {
                    println!(
                        "  {:<22} {:<8} {:<19} {} / {}",
                        e.id,
                        e.ty.name(),
                        e.sensitivity.name(),
                        e.en,
                        e.zh
                    );
                }
            }
            println!();
            println!("datasets:");
            for ds in standard.datasets() {
                println!("  {:<40} {} / {}", ds.id, ds.en, ds.zh);
            }
            ExitCode::SUCCESS
        }
        StandardCommand::Show { element } => {
            if let Some(e) = standard.element(&element) {
                println!("id:          {}", e.id);
                println!("name:        {} / {}", e.en, e.zh);
                println!("type:        {}", e.ty.name());
                if let Some(f) = e.format {
                    println!("format:      {}", f.name());
                }
                if !e.values.is_empty() {
                    println!("codes:       {}", e.values.join(", "));
                }
                println!("sensitivity: {}", e.sensitivity.name());
                let owner = standard
                    .department(&e.owner)
                    .map_or(e.owner.as_str(), |d| d.en.as_str());
                println!("owner:       {} ({})", e.owner, owner);
                let used: Vec<String> = standard
                    .datasets()
                    .flat_map(|d| {
                        d.fields
                            .iter()
                            .filter(|f| f.element == e.id)
                            .map(move |f| format!("{}.{}", d.id, f.name))
                    })
                    .collect();
                println!("used by:     {}", used.join(", "));
                ExitCode::SUCCESS
            } else if let Some(d) = standard.dataset(&element) {
                println!("dataset:     {}", d.id);
                println!("name:        {} / {}", d.en, d.zh);
                println!("island:      {} (table {})", d.department, d.table);
                println!("key:         {}", d.key);
                println!("subject:     {:?}", d.subject);
                println!("fields:");
                for f in &d.fields {
                    let e = standard.element(&f.element).expect("checked on load");
                    println!(
                        "  {:<20} {:<20} {:<8} {:<19} {}",
                        f.name,
                        f.element,
                        e.ty.name(),
                        e.sensitivity.name(),
                        if f.required { "required" } else { "optional" }
                    );
                }
                ExitCode::SUCCESS
            } else {
                eprintln!("error: no element or dataset named '{element}' (see `errandless standard list`)");
                ExitCode::from(2)
            }
        }
        StandardCommand::Check { kind, value } => check(kind, &value, known_counties),
        StandardCommand::Validate { dir } => match Standard::load_dir(&dir) {
            Ok(s) => {
                println!(
                    "valid: {} departments, {} elements, {} datasets",
                    s.departments().len(),
                    s.elements().count(),
                    s.datasets().count()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        },
    }
}

fn check(kind: CheckKind, value: &str, known_counties: &dyn Fn(u32) -> Option<bool>) -> ExitCode {
    let verdict: Result<Vec<String>, String> = match kind {
        CheckKind::Id => {
            let parsed = if value.chars().count() == 15 {
                CitizenId::from_legacy(value, errandless_standards::Date::today())
                    .inspect(|id| println!("legacy number converted to {id}"))
            } else {
                CitizenId::parse(value)
            };
            parsed
                .map(|id| {
                    let mut notes = Vec::new();
                    match known_counties(id.address_code()) {
                        Some(true) => {}
                        Some(false) => notes.extend(
                            id.warnings(|_| false).into_iter().map(|w| format!("warning: {w}")),
                        ),
                        None => notes.push(format!(
                            "note: address code {:06} not checked against a county list (no province in the data directory)",
                            id.address_code()
                        )),
                    }
                    notes
                })
                .map_err(|e| format!("{}: {e}", e.rule()))
        }
        CheckKind::Uscc => Uscc::parse(value)
            .map(|_| Vec::new())
            .map_err(|e| format!("{}: {e}", e.rule())),
        CheckKind::Division => DivisionCode::parse(value)
            .map(|code| {
                let parent = code.parent().map_or("none".to_string(), |p| p.to_string());
                vec![format!("level: {}, parent: {parent}", code.level())]
            })
            .map_err(|e| format!("{}: {e}", e.rule())),
    };
    match verdict {
        Ok(notes) => {
            println!("valid");
            for n in notes {
                println!("{n}");
            }
            ExitCode::SUCCESS
        }
        Err(rule) => {
            println!("invalid: {rule}");
            ExitCode::from(1)
        }
    }
}
