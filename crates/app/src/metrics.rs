//! Prometheus metrics: queue depth by state (read from the database at scrape time), render
//! durations, and job failures by reason. When the queue could not be read, its gauges are left
//! out and `pressroom_queue_gauges_available` is 0: a stale depth is never shown as current.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use storage::QueueCounts;
use storage::queue::JobState;

pub struct Metrics {
    registry: Registry,
    jobs: IntGaugeVec,
    jobs_available: IntGauge,
    pub render_seconds: HistogramVec,
    pub job_failures: IntCounterVec,
    pub jobs_finished: IntCounterVec,
    /// Webhook deliveries answered, by what happened ("stored", "ping").
    pub webhooks: IntCounterVec,
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
        let jobs_available = IntGauge::new(
            "pressroom_queue_gauges_available",
            "1 when pressroom_jobs was read from the database at this scrape, 0 when it could not be",
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
        let webhooks = IntCounterVec::new(
            Opts::new(
                "pressroom_webhooks_total",
                "Webhook deliveries accepted, by kind (stored, ping)",
            ),
            &["kind"],
        )
        .expect("valid metric");
        for m in [
            Box::new(jobs.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(jobs_available.clone()),
            Box::new(render_seconds.clone()),
            Box::new(job_failures.clone()),
            Box::new(jobs_finished.clone()),
            Box::new(webhooks.clone()),
        ] {
            registry.register(m).expect("metric registered once");
        }
        Metrics {
            registry,
            jobs,
            jobs_available,
            render_seconds,
            job_failures,
            jobs_finished,
            webhooks,
        }
    }

    /// The text exposition, with the queue depth as counted now (`None`: the database did not
    /// answer, so the depth gauges are omitted rather than repeated from an earlier scrape).
    pub fn render(&self, queue: Option<&QueueCounts>) -> String {
        match queue {
            Some(q) => {
                for state in JobState::ALL {
                    self.jobs
                        .with_label_values(&[state.as_str()])
                        .set(q.get(state));
                }
                self.jobs_available.set(1);
            }
            None => {
                self.jobs.reset();
                self.jobs_available.set(0);
            }
        }
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding cannot fail");
        String::from_utf8(out).expect("prometheus text is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge(text: &str, name: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    }

    #[test]
    fn queue_gauges_are_omitted_and_flagged_when_the_queue_could_not_be_read() {
        let m = Metrics::new();
        let counts = QueueCounts {
            queued: 3,
            ..Default::default()
        };
        let fresh = m.render(Some(&counts));
        assert_eq!(
            gauge(&fresh, "pressroom_jobs{state=\"queued\"}").as_deref(),
            Some("3")
        );
        assert_eq!(
            gauge(&fresh, "pressroom_queue_gauges_available").as_deref(),
            Some("1")
        );

        let stale = m.render(None);
        assert_eq!(
            gauge(&stale, "pressroom_jobs{"),
            None,
            "no stale depth:\n{stale}"
        );
        assert_eq!(
            gauge(&stale, "pressroom_queue_gauges_available").as_deref(),
            Some("0")
        );
    }
}
