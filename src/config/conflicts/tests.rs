//! The conflict rules' unit tests.

use super::*;
use std::path::PathBuf;

fn src(file: &str, document: usize) -> Source {
    Source {
        file: PathBuf::from(file),
        document,
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_copy_of_a_duplicate_is_named() {
    let id = (Kind::AuthConfig, ObjectKey::new("ns", "a"));
    let defs = vec![
        Definition {
            id: id.clone(),
            source: src("b.yaml", 1),
        },
        Definition {
            id: (Kind::AuthConfig, ObjectKey::new("ns", "other")),
            source: src("b.yaml", 2),
        },
        Definition {
            id: id.clone(),
            source: src("a.yaml", 3),
        },
    ];
    let dups = duplicates(&defs);
    assert_eq!(dups.len(), 1);
    let errors = duplicate_errors(&id, &dups[&id]);
    assert_eq!(errors.len(), 2);
    assert!(
        errors[0].message.contains("a.yaml document 3"),
        "{errors:?}"
    );
    assert!(
        errors[1].message.contains("b.yaml document 1"),
        "{errors:?}"
    );
}

#[test]
fn a_contested_domain_rejects_every_claimant_and_denies_all_their_domains() {
    let (site, intruder, other) = (
        ObjectKey::new("gloo-system", "site"),
        ObjectKey::new("aaa", "aaa"),
        ObjectKey::new("ns", "other"),
    );
    let (s1, s2, s3) = (src("site.yaml", 1), src("aaa.yaml", 1), src("o.yaml", 1));
    let (d1, d2, d3) = (
        strings(&["site.example", "www.site.example"]),
        strings(&["site.example"]),
        strings(&["other.example", "other.example"]),
    );
    let claims = [
        Claim {
            key: &site,
            source: &s1,
            domains: &d1,
            in_force: true,
        },
        Claim {
            key: &intruder,
            source: &s2,
            domains: &d2,
            in_force: true,
        },
        Claim {
            key: &other,
            source: &s3,
            domains: &d3,
            in_force: true,
        },
    ];
    let ruling = domains(&claims, &BTreeSet::new());
    assert_eq!(
        ruling.rejected,
        BTreeSet::from([site.clone(), intruder.clone()])
    );
    assert_eq!(
        ruling.denied.keys().collect::<Vec<_>>(),
        ["site.example", "www.site.example"]
    );
    assert_eq!(ruling.errors.len(), 2);
    // the order of the claims does not change the ruling
    let reversed: Vec<Claim<'_>> = claims.iter().rev().cloned().collect();
    assert_eq!(
        domains(&reversed, &BTreeSet::new()).rejected,
        ruling.rejected
    );
}

#[test]
fn two_copies_of_one_virtual_service_deny_its_domains() {
    let site = ObjectKey::new("ns", "site");
    let (s1, s2) = (src("a.yaml", 1), src("b.yaml", 1));
    let d = strings(&["site.example"]);
    let claims = [
        Claim {
            key: &site,
            source: &s1,
            domains: &d,
            in_force: true,
        },
        Claim {
            key: &site,
            source: &s2,
            domains: &d,
            in_force: true,
        },
    ];
    let ruling = domains(&claims, &BTreeSet::from([site.clone()]));
    assert!(
        ruling.rejected.is_empty(),
        "reported as a duplicate instead"
    );
    assert!(ruling.errors.is_empty(), "reported as a duplicate instead");
    assert!(ruling.denied.contains_key("site.example"));
}

/// Copies of one resource, each in its own file.
fn copies(n: usize) -> Vec<Source> {
    (0..n)
        .map(|i| src(&format!("tenant-{i:05}.yaml"), 1))
        .collect()
}

#[test]
fn a_thousand_copies_of_a_resource_give_errors_of_bounded_size() {
    // a template that forgot to vary the name: each copy's error names a few others and
    // counts the rest, instead of every copy naming every other (square in the copies)
    let id = (Kind::AuthConfig, ObjectKey::new("ns", "same"));
    let sources = copies(1000);
    let errors = duplicate_errors(&id, &sources);
    assert_eq!(errors.len(), 1000);
    for (i, e) in errors.iter().enumerate() {
        assert!(e.message.len() < 2_000, "{} bytes", e.message.len());
        assert!(e.message.contains(" and 979 more;"), "{}", e.message);
        assert!(
            !e.message.contains(&format!("tenant-{i:05}.yaml")),
            "a copy does not name itself: {}",
            e.message
        );
    }
    assert!(errors[0]
        .message
        .contains("tenant-00001.yaml document 1, tenant-00002.yaml"));
    assert!(errors[5]
        .message
        .contains("tenant-00004.yaml document 1, tenant-00006.yaml"));
}

#[test]
fn a_thousand_claims_of_a_domain_give_errors_of_bounded_size() {
    let keys: Vec<ObjectKey> = (0..1000)
        .map(|i| ObjectKey::new("ns", &format!("vs{i:05}")))
        .collect();
    let sources = copies(1000);
    let d = strings(&["site.example"]);
    let mut claims: Vec<Claim<'_>> = keys
        .iter()
        .zip(&sources)
        .map(|(key, source)| Claim {
            key,
            source,
            domains: &d,
            in_force: true,
        })
        .collect();
    // a second copy of vs00000 (a duplicate): not counted among vs00000's contestants
    let extra = src("copy.yaml", 1);
    claims.push(Claim {
        key: &keys[0],
        source: &extra,
        domains: &d,
        in_force: true,
    });
    let ruling = domains(&claims, &BTreeSet::new());
    assert_eq!(ruling.rejected.len(), 1000);
    assert_eq!(ruling.errors.len(), 1001);
    for e in &ruling.errors {
        assert!(e.message.len() < 3_000, "{} bytes", e.message.len());
    }
    // vs00000 is contested by the 999 others; vs00001 by 998 others and both copies of vs00000
    assert!(
        ruling.errors[0].message.contains(" and 979 more;"),
        "{}",
        ruling.errors[0].message
    );
    assert!(
        ruling.errors[1].message.contains(" and 980 more;"),
        "{}",
        ruling.errors[1].message
    );
}
