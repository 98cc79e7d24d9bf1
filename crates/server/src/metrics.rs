//! Prometheus metrics: reads by outcome and the latency of reads, portal pages, refusals and
//! the console's policy runs.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub(crate) struct Metrics {
    registry: Registry,
    reads: Family<Labels, Counter>,
    pages: Family<Labels, Counter>,
    refusals: Family<Labels, Counter>,
    policy_runs: Family<Labels, Counter>,
    latency: Histogram,
    ledger_entries: Gauge,
    ledger_batches: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let reads = Family::<Labels, Counter>::default();
        // 0.25 ms to about 4 s.
        let latency = Histogram::new(exponential_buckets(0.000_25, 2.0, 15));
        registry.register(
            "errandless_reads",
            "Per-subject reads answered, by outcome (allowed or the refusal code)",
            reads.clone(),
        );
        registry.register(
            "errandless_read_duration_seconds",
            "Time to answer a per-subject read, ledger record included",
            latency.clone(),
        );
        let pages = Family::<Labels, Counter>::default();
        registry.register(
            "errandless_portal_pages",
            "Portal and console pages served, by page",
            pages.clone(),
        );
        let refusals = Family::<Labels, Counter>::default();
        registry.register(
            "errandless_portal_refusals",
            "Portal and console actions refused (403), by action",
            refusals.clone(),
        );
        let policy_runs = Family::<Labels, Counter>::default();
        registry.register(
            "errandless_console_policy_runs",
            "Policy simulations and enactments run from the console, by run and outcome",
            policy_runs.clone(),
        );
        let ledger_entries = Gauge::default();
        let ledger_batches = Gauge::default();
        registry.register(
            "errandless_ledger_entries",
            "Entries in the ledger, all durable",
            ledger_entries.clone(),
        );
        registry.register(
            "errandless_ledger_batches",
            "Batches the recorder has appended since start, each with one fsync",
            ledger_batches.clone(),
        );
        Metrics {
            registry,
            reads,
            pages,
            refusals,
            policy_runs,
            latency,
            ledger_entries,
            ledger_batches,
        }
    }

    pub fn observe_read(&self, outcome: &str, took: Duration) {
        self.reads
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    pub fn page(&self, page: &str) {
        self.pages
            .get_or_create(&vec![("page".to_owned(), page.to_owned())])
            .inc();
    }

    pub fn refused(&self, action: &str) {
        self.refusals
            .get_or_create(&vec![("action".to_owned(), action.to_owned())])
            .inc();
    }

    /// A console policy run finished: `run` is `simulate` or `enact`, `outcome` `done` or
    /// `failed`.
    pub fn policy_run(&self, run: &str, outcome: &str) {
        self.policy_runs
            .get_or_create(&vec![
                ("run".to_owned(), run.to_owned()),
                ("outcome".to_owned(), outcome.to_owned()),
            ])
            .inc();
    }

    /// The OpenMetrics text exposition, with the ledger's figures as of now.
    pub fn render(&self, ledger_entries: u64, ledger_batches: u64) -> String {
        self.ledger_entries
            .set(i64::try_from(ledger_entries).unwrap_or(i64::MAX));
        self.ledger_batches
            .set(i64::try_from(ledger_batches).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
