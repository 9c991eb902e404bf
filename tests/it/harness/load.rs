//! Load from several keep-alive clients at once, each check timed on its own.

use super::extauth::Answer;
use super::http::KeepAlive;
use std::time::{Duration, Instant};

/// One check as a client saw it.
#[derive(Debug)]
pub struct Sample {
    /// How long its answer took.
    pub took: Duration,
    /// The answer, or why there was none.
    pub answer: Result<Answer, String>,
}

/// How long to keep sending: a number of checks per client, or a duration.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// This many checks per client.
    Count(usize),
    /// Until this much time has passed since the start.
    Elapsed(Duration),
}

/// Runs `clients` keep-alive clients of `addr` at once, each sending the checks `request(client,
/// n)` returns one after the other until `until`; returns every sample, in no particular order.
/// A check without an answer within 10 s is a sample with an error.
pub fn run(
    addr: &str,
    clients: usize,
    until: Until,
    request: impl Fn(usize, usize) -> Vec<u8> + Sync,
) -> Vec<Sample> {
    let start = Instant::now();
    let request = &request;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                s.spawn(move || {
                    let mut conn = KeepAlive::new(addr, Duration::from_secs(10));
                    let mut samples = Vec::new();
                    for n in 0.. {
                        match until {
                            Until::Count(count) if n >= count => break,
                            Until::Elapsed(d) if start.elapsed() >= d => break,
                            _ => {}
                        }
                        let raw = request(client, n);
                        let sent = Instant::now();
                        let answer = conn
                            .send(&raw)
                            .map(Answer::from_message)
                            .map_err(|e| e.to_string());
                        samples.push(Sample {
                            took: sent.elapsed(),
                            answer,
                        });
                    }
                    samples
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("load client panicked"))
            .collect()
    })
}

/// The slowest check of `samples`.
pub fn slowest(samples: &[Sample]) -> Duration {
    samples.iter().map(|s| s.took).max().unwrap_or_default()
}
