//! The store and the TLS files AuthConfigs name: a changed file is read again and its new
//! material adopted by the version in force (same `Loaded`, so the same actors and
//! connections); an invalid one keeps the previous material and is reported; a file held as
//! not whole yet is not read.

use std::path::Path;
use std::sync::Arc;

use super::{Content, Loaded, Store};
use crate::config::types::ObjectKey;
use crate::config::Kind;
use crate::tls::testing::ca_until;

const FIELD: &str = "spec.configs[0].passThroughAuth.http.tlsConfig.caFile";

fn write_config(dir: &Path) {
    let yaml = "apiVersion: enterprise.gloo.solo.io/v1
kind: AuthConfig
metadata: {name: ac, namespace: ns}
spec:
  configs:
  - passThroughAuth:
      http:
        url: https://127.0.0.1:1/auth
        tlsConfig: {caFile: tls/ca.pem}
";
    std::fs::write(dir.join("ac.yaml"), yaml).unwrap();
}

/// The caFile expiry the AuthConfig in force exports, and its `Loaded`.
fn in_force(store: &Store) -> (i64, Arc<Loaded>) {
    let loaded = store.current().resources[&(Kind::AuthConfig, ObjectKey::new("ns", "ac"))].clone();
    let Content::AuthConfig(ac) = &loaded.resource.content else {
        panic!("not an AuthConfig")
    };
    let tls = ac.policy.steps[0].tls.as_ref().unwrap();
    (tls.expiries()[0].not_after, loaded)
}

#[test]
fn rewritten_tls_files_are_adopted_in_place_and_broken_ones_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    let ca_file = dir.path().join("tls/ca.pem");
    let (one, two, three) = (
        ca_until("one", 2031),
        ca_until("two", 2032),
        ca_until("three", 2033),
    );
    std::fs::write(&ca_file, &one.pem).unwrap();
    write_config(dir.path());
    let mut store = Store::new(dir.path());
    let first = store.reload();
    assert!(
        first.snapshot.errors.is_empty(),
        "{:?}",
        first.snapshot.errors
    );
    let dependencies: Vec<_> = store.dependencies().into_iter().collect();
    assert_eq!(dependencies, std::slice::from_ref(&ca_file));
    let (expiry, loaded) = in_force(&store);
    assert_eq!(expiry, one.not_after);

    // unchanged: nothing read again, nothing rotated
    assert!(store.reload().rotated.is_empty());

    // a new CA: the same version in force takes it
    std::fs::write(&ca_file, &two.pem).unwrap();
    let reload = store.reload();
    assert_eq!(
        reload.rotated,
        [(Kind::AuthConfig, ObjectKey::new("ns", "ac"))]
    );
    assert!(
        reload.diff.is_empty(),
        "the AuthConfig itself did not change"
    );
    let (expiry, now) = in_force(&store);
    assert_eq!(expiry, two.not_after);
    assert!(
        Arc::ptr_eq(&loaded, &now),
        "the same version, its actors and connections kept"
    );

    // held (being written): not read
    std::fs::write(&ca_file, &three.pem).unwrap();
    let reload = store.reload_with(&mut |p| p == ca_file);
    assert!(reload.rotated.is_empty());
    assert_eq!(in_force(&store).0, two.not_after);

    // broken: reported against the field, the material in use stays
    std::fs::write(&ca_file, "-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap();
    let reload = store.reload();
    assert_eq!(
        reload.kept,
        [(Kind::AuthConfig, ObjectKey::new("ns", "ac"))]
    );
    let errors = &reload.snapshot.errors;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field.as_deref(), Some(FIELD));
    assert!(errors[0].message.contains("not whole"), "{errors:?}");
    assert_eq!(in_force(&store).0, two.not_after);

    // fixed: adopted, the error gone
    std::fs::write(&ca_file, &three.pem).unwrap();
    let reload = store.reload();
    assert!(reload.snapshot.errors.is_empty());
    assert_eq!(reload.rotated.len(), 1);
    let (expiry, now) = in_force(&store);
    assert_eq!(expiry, three.not_after);
    assert!(Arc::ptr_eq(&loaded, &now));
}

#[test]
fn a_tls_file_missing_at_first_is_picked_up_when_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tls")).unwrap();
    write_config(dir.path());
    let mut store = Store::new(dir.path());
    let first = store.reload();
    assert_eq!(first.snapshot.errors.len(), 1);
    assert!(first
        .snapshot
        .invalid
        .contains(&(Kind::AuthConfig, ObjectKey::new("ns", "ac"))));
    let ca = ca_until("late", 2035);
    std::fs::write(dir.path().join("tls/ca.pem"), &ca.pem).unwrap();
    let reload = store.reload();
    assert!(
        reload.snapshot.errors.is_empty(),
        "{:?}",
        reload.snapshot.errors
    );
    assert_eq!(reload.diff.added.len(), 1);
    assert_eq!(in_force(&store).0, ca.not_after);
}
