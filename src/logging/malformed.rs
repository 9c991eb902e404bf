//! Malformed requests on the listening ports, without a log line each: actix-http logs every
//! connection that ends on a bad request (garbage, an invalid header, a reset mid-request) as
//! `ERROR actix_http::h1::dispatcher: stream error: ...`, so anyone who can reach the check
//! port could flood the error log. Those lines are counted instead
//! (`extauth_malformed_requests_total`), passed on at trace level, and summed up in one WARN
//! line at most once a minute, so the log still says that it is happening.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use log::{Level, Metadata, Record};
use prometheus::IntCounter;

/// Where actix-http logs a connection that ended on an error.
const DISPATCHER: &str = "actix_http::h1::dispatcher";
/// How the dispatcher's line about such a connection starts.
const STREAM_ERROR: &str = "stream error: ";
/// At most one summary line per this period.
pub const PERIOD: Duration = Duration::from_secs(60);

/// Whether records of `metadata` may be actix-http's line about a malformed request.
pub fn may_be_malformed(metadata: &Metadata) -> bool {
    metadata.level() == Level::Error && metadata.target() == DISPATCHER
}

/// The error of actix-http's line about a malformed request, if `record` is one.
pub fn malformed_error(record: &Record) -> Option<String> {
    if !may_be_malformed(record.metadata()) {
        return None;
    }
    let text = record.args().to_string();
    text.strip_prefix(STREAM_ERROR).map(str::to_string)
}

/// Lets one summary line a period through, counting the events in between.
#[derive(Debug, Default)]
pub struct Summary {
    /// When the last line went out.
    last: Option<Instant>,
    /// Events since (not yet in a line).
    held: u64,
}

impl Summary {
    /// Counts one event at `now`: `Some(events since the last line, this one included)` when
    /// a line is due (the first event, or the first a period after the last line).
    pub fn event(&mut self, now: Instant) -> Option<u64> {
        self.held += 1;
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= PERIOD);
        if !due {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.held))
    }
}

/// The counter of malformed requests, shared by the logger that counts and the metrics that
/// export it.
pub fn counter() -> &'static IntCounter {
    static COUNTER: OnceLock<IntCounter> = OnceLock::new();
    COUNTER.get_or_init(|| {
        IntCounter::new(
            "extauth_malformed_requests_total",
            "Connections to the check or admin port that ended on a malformed request, or broke \
             mid-request (actix-http's `stream error` lines, which are logged at trace level; a \
             warning sums them up at most once a minute).",
        )
        .expect("a valid counter name and help")
    })
}

/// Counts one malformed request (actix-http's `error`) and logs the summary line when due.
pub fn observed(error: &str) {
    static SUMMARY: Mutex<Summary> = Mutex::new(Summary {
        last: None,
        held: 0,
    });
    counter().inc();
    let due = SUMMARY
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .event(Instant::now());
    // logged with the lock released: this goes through the process logger again
    if let Some(count) = due {
        log::warn!(
            count,
            total = counter().get(),
            error;
            "malformed requests on the check or admin port (count: since the last such line, which comes at most once a minute; every one is counted in extauth_malformed_requests_total)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_period_with_the_count_since_the_last() {
        let mut s = Summary::default();
        let t = Instant::now();
        assert_eq!(s.event(t), Some(1), "the first one at once");
        for i in 1..200 {
            assert_eq!(s.event(t + Duration::from_millis(i)), None);
        }
        assert_eq!(s.event(t + PERIOD), Some(200));
        assert_eq!(s.event(t + PERIOD + Duration::from_secs(1)), None);
        assert_eq!(s.event(t + PERIOD * 5), Some(2), "after a quiet time");
    }

    #[test]
    fn only_the_dispatcher_stream_error_lines_are_malformed_requests() {
        let line = |level, target: &str, text: &str| {
            malformed_error(
                &Record::builder()
                    .level(level)
                    .target(target)
                    .args(format_args!("{text}"))
                    .build(),
            )
        };
        assert_eq!(
            line(
                Level::Error,
                DISPATCHER,
                "stream error: request parse error: invalid Header provided"
            ),
            Some("request parse error: invalid Header provided".into())
        );
        assert_eq!(line(Level::Error, DISPATCHER, "write zero; closing"), None);
        assert_eq!(line(Level::Trace, DISPATCHER, "stream error: x"), None);
        assert_eq!(
            line(Level::Error, "extauth::check", "stream error: x"),
            None
        );
    }
}
