//! Configuration: one TOML file plus `ERRANDLESS_*` environment variables, with defaults that
//! run. A command-line flag wins over the environment, which wins over the file.
//!
//! The file is `--config FILE`, else `$ERRANDLESS_CONFIG`, else `errandless.toml` in the
//! current directory if there is one. Every key is optional:
//!
//! ```toml
//! data = "errandless-data"        # ERRANDLESS_DATA
//!
//! [store]
//! url = "postgres://…"            # ERRANDLESS_STORE_URL (default: <data>/platform.sqlite)
//!
//! [province]
//! people = 100000                 # ERRANDLESS_PEOPLE
//! seed = 1                        # ERRANDLESS_SEED
//! code = 52                       # ERRANDLESS_PROVINCE
//!
//! [clock]
//! start = "2027-03-01"            # ERRANDLESS_CLOCK, or --clock: run as if it were then
//!
//! [payments]                      # the paying account on pain.001 files
//! member = "finance"              # who the ledger records as paying
//! debtor_name = "省财政厅 Provincial Department of Finance"
//! debtor_account = "520000000000000000001"
//! debtor_bank = "国家金库 State Treasury"
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data: Option<PathBuf>,
    #[serde(default)]
    pub province: ProvinceConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub payments: PaymentsConfig,
    #[serde(default)]
    pub clock: ClockConfig,
}

/// The `[clock]` section: the time the installation runs at, for a rehearsal of a period
/// ahead; the system clock by default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    pub start: Option<String>,
}

/// The `[payments]` section: the paying side of payment files (defaults in
/// `errandless_payments::Payer::default`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentsConfig {
    pub member: Option<String>,
    pub debtor_name: Option<String>,
    pub debtor_account: Option<String>,
    pub debtor_bank: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvinceConfig {
    pub people: Option<u64>,
    pub seed: Option<u64>,
    pub code: Option<u8>,
}

/// The settled configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data: PathBuf,
    pub people: u64,
    pub seed: u64,
    pub province: u8,
    /// The platform store: a `postgres://` URL, or `None` for `<data>/platform.sqlite`.
    pub store_url: Option<String>,
    /// The `[payments]` section as given.
    pub payments: PaymentsConfig,
    /// What time it is: every command that depends on the date asks this clock.
    pub clock: errandless_standards::Clock,
}

pub const DEFAULT_DATA: &str = "errandless-data";

impl Settings {
    /// The province's 6-digit division code, e.g. `520000`: the G2P API's tenant.
    pub fn province_division(&self) -> String {
        format!("{:02}0000", self.province)
    }

    /// Where the platform store lives: the configured URL, or `<data>/platform.sqlite`.
    pub fn store_location(&self) -> String {
        self.store_url
            .clone()
            .unwrap_or_else(|| errandless_store::Store::default_url(&self.data))
    }

    /// Opens the platform store at [`Settings::store_location`].
    pub async fn open_store(&self) -> anyhow::Result<errandless_store::Store> {
        errandless_store::Store::open(&self.store_location())
            .await
            .context("while opening the platform store")
    }

    /// Merges flags (already merged with the environment by clap) over the file over defaults.
    pub fn load(
        config_flag: Option<&Path>,
        data_flag: Option<PathBuf>,
        clock_flag: Option<&str>,
    ) -> anyhow::Result<Settings> {
        let file = match config_flag {
            Some(path) => Some(read(path)?),
            None if Path::new("errandless.toml").is_file() => {
                Some(read(Path::new("errandless.toml"))?)
            }
            None => None,
        }
        .unwrap_or_default();
        let env_u64 = |name: &str| -> anyhow::Result<Option<u64>> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .with_context(|| format!("{name}={v:?} is not a whole number")),
                Err(_) => Ok(None),
            }
        };
        let province = match env_u64("ERRANDLESS_PROVINCE")? {
            Some(v) => u8::try_from(v).context("ERRANDLESS_PROVINCE must be a two-digit code")?,
            None => file.province.code.unwrap_or(52),
        };
        let clock = match clock_flag.map(str::to_owned).or(file.clock.start.clone()) {
            Some(text) => errandless_standards::Clock::parse(&text)
                .with_context(|| format!("the clock setting {text:?}"))?,
            None => errandless_standards::Clock::system(),
        };
        Ok(Settings {
            clock,
            data: data_flag
                .or(file.data)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA)),
            people: env_u64("ERRANDLESS_PEOPLE")?
                .or(file.province.people)
                .unwrap_or(100_000),
            seed: env_u64("ERRANDLESS_SEED")?
                .or(file.province.seed)
                .unwrap_or(1),
            province,
            store_url: std::env::var("ERRANDLESS_STORE_URL")
                .ok()
                .filter(|v| !v.trim().is_empty())
                .or(file.store.url),
            payments: file.payments,
        })
    }
}

fn read(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let (line, col) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                (
                    before.matches('\n').count() + 1,
                    before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                )
            })
            .unwrap_or((0, 0));
        anyhow::anyhow!("{}:{line}:{col}: {}", path.display(), e.message())
    })
}
