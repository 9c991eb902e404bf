//! Fuzzes the config loader: arbitrary bytes as one file of the config directory (a `.json`
//! file when they start with `{`, else `.yaml`), parsed, typed, compiled (AuthConfig policies,
//! VirtualService routes) and every error rendered as the logs and `extauth validate` render
//! it. It must never panic, hang or blow up; errors are fine.

#![no_main]

use std::path::Path;

use extauth::compiled::Compiler;
use extauth::config::load::{parse_file, DocumentOutcome};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let name = if data.first() == Some(&b'{') {
        "fuzz.json"
    } else {
        "fuzz.yaml"
    };
    let outcome = parse_file::<Compiler>(Path::new(name), data);
    if let Some(fatal) = &outcome.fatal {
        let _ = fatal.to_string();
    }
    for doc in &outcome.documents {
        if let DocumentOutcome::Invalid { errors, .. } = doc {
            for e in errors {
                let _ = e.to_string();
            }
        }
    }
});
