//! Prometheus metrics: queue depth by state (read from the database at scrape time), render
//! durations, and job failures by reason.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use storage::QueueCounts;
use storage::queue::JobState;

pub struct Metrics {
    registry: Registry,
    jobs: IntGaugeVec,
    pub render_seconds: HistogramVec,
    pub job_failures: IntCounterVec,
    pub jobs_finished: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let jobs = IntGaugeVec::new(
            Opts::new("pressroom_jobs", "Jobs in the queue by state"),
            &["state"],
        )
        .expect("valid metric");
        let render_seconds = HistogramVec::new(
            HistogramOpts::new(
                "pressroom_render_duration_seconds",
                "Time to render and store one item",
            )
            .buckets(vec![0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
            &["template"],
        )
        .expect("valid metric");
        let job_failures = IntCounterVec::new(
            Opts::new(
                "pressroom_job_failures_total",
                "Failed job attempts by reason",
            ),
            &["kind", "reason"],
        )
        .expect("valid metric");
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "pressroom_jobs_finished_total",
                "Jobs this process finished, by outcome",
            ),
            &["kind", "outcome"],
        )
        .expect("valid metric");
        for m in [
            Box::new(jobs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(render_seconds.clone()),
            Box::new(job_failures.clone()),
            Box::new(jobs_finished.clone()),
        ] {
            registry.register(m).expect("metric registered once");
        }
        Metrics {
            registry,
            jobs,
            render_seconds,
            job_failures,
            jobs_finished,
        }
    }

    /// The text exposition, with the queue depth as counted now.
    pub fn render(&self, queue: Option<&QueueCounts>) -> String {
        if let Some(q) = queue {
            for state in JobState::ALL {
                self.jobs
                    .with_label_values(&[state.as_str()])
                    .set(q.get(state));
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}
