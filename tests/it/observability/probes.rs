//! Health and readiness answer at once, however many large admin answers are being rendered:
//! with 10,000 AuthConfigs, 20 concurrent `/configz` clients pushed `/healthz` to 1-2 s, past a
//! Kubernetes probe's default 1 s timeout.

use crate::harness::http::simple_get;
use crate::harness::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[test]
fn probes_never_queue_behind_large_admin_answers() {
    let mut docs = Vec::new();
    for i in 0..10_000 {
        docs.push(auth_config(
            &format!("ac-{i:05}"),
            json!({"configs": [step("", json!({"url": format!("http://127.0.0.1:9/auth/{i}")}))]}),
        ));
    }
    let ext = Extauth::start(&[("many.yaml", &yaml(&docs))]);
    let stop = AtomicBool::new(false);
    let rendered = AtomicUsize::new(0);
    let mut slowest = Duration::ZERO;
    std::thread::scope(|s| {
        for i in 0..20 {
            let (stop, rendered, admin) = (&stop, &rendered, ext.admin_addr.clone());
            s.spawn(move || {
                let path = if i % 4 == 0 { "/metrics" } else { "/configz" };
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((200, _)) = simple_get(&admin, path) {
                        rendered.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        // let the large answers pile up, then probe
        std::thread::sleep(Duration::from_millis(300));
        for _ in 0..20 {
            for probe in ["/healthz", "/readyz"] {
                let sent = Instant::now();
                let (status, _) = simple_get(&ext.admin_addr, probe).expect(probe);
                assert_eq!(status, 200, "{probe}");
                slowest = slowest.max(sent.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
    });
    println!(
        "slowest probe {slowest:?}; {} large answers rendered meanwhile",
        rendered.load(Ordering::SeqCst)
    );
    assert!(rendered.load(Ordering::SeqCst) >= 2, "the load never ran");
    assert!(
        slowest < Duration::from_millis(500),
        "a probe took {slowest:?} with 20 clients asking for large answers"
    );
}
