//! Prometheus metrics: reads by outcome and the latency of reads.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

pub(crate) struct Metrics {
    registry: Registry,
    reads: Family<Labels, Counter>,
    latency: Histogram,
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
        Metrics {
            registry,
            reads,
            latency,
        }
    }

    pub fn observe_read(&self, outcome: &str, took: Duration) {
        self.reads
            .get_or_create(&vec![("outcome".to_owned(), outcome.to_owned())])
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
