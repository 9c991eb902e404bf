//! Conflicts between files: a resource defined more than once, a domain claimed by more than one
//! VirtualService. The rule depends only on what the files say, never on load order or on what
//! was in force before, so every replica and every restart enforces the same thing, and a
//! conflict never opens anything: every copy of a duplicated resource, and every VirtualService
//! claiming a contested domain, is rejected; what depended on them answers 403.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::compile::{Compile, VirtualServiceClaims};
use super::error::ConfigError;
use super::listing::abbreviated;
use super::load::{Content, DocumentOutcome, FileOutcome, Kind, Source};
use super::snapshot::{Loaded, ResourceId};
use super::types::ObjectKey;

/// One document that defines (or tries to define) a resource.
#[derive(Debug, Clone)]
pub struct Definition {
    /// What it defines.
    pub id: ResourceId,
    /// Where.
    pub source: Source,
}

/// Every resource defined by more than one document, with all its definitions (in file order).
pub fn duplicates(definitions: &[Definition]) -> BTreeMap<ResourceId, Vec<Source>> {
    let mut by_id: BTreeMap<ResourceId, Vec<Source>> = BTreeMap::new();
    for d in definitions {
        by_id
            .entry(d.id.clone())
            .or_default()
            .push(d.source.clone());
    }
    by_id.retain(|_, sources| sources.len() > 1);
    by_id
}

/// The errors for one duplicated resource: one per copy, naming every other copy.
pub fn duplicate_errors(id: &ResourceId, sources: &[Source]) -> Vec<ConfigError> {
    let (kind, key) = id;
    let consequence = match kind {
        Kind::AuthConfig => "checks on routes that use it are denied (403)",
        Kind::VirtualService => "checks for its domains are denied (403)",
        Kind::Upstream => "it is left out of the generated Envoy configuration",
    };
    sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let others = sources
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, s)| where_(s));
            let others = abbreviated(others, sources.len() - 1);
            ConfigError {
                file: source.file.clone(),
                document: Some(source.document),
                resource: Some(format!("{kind} {key}")),
                field: Some("metadata.name".into()),
                line: None,
                column: None,
                message: format!(
                    "{kind} {key} is also defined in {others}; no copy is loaded and {consequence} until only one remains"
                ),
            }
        })
        .collect()
}

/// One VirtualService copy claiming domains.
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    /// The VirtualService.
    pub key: &'a ObjectKey,
    /// Where this copy was read.
    pub source: &'a Source,
    /// Its domains, as compiled (lower-cased).
    pub domains: &'a [String],
    /// False for an invalid VirtualService no version of which is in force: it is not
    /// rejected (it is not loaded anyway), but its domains are denied and still contested.
    /// True for the others (a duplicated copy is rejected as a duplicate).
    pub in_force: bool,
}

/// What the domain rule decided.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DomainRuling {
    /// VirtualServices that claim a contested domain: none of them is loaded.
    pub rejected: BTreeSet<ObjectKey>,
    /// Every domain of a rejected VirtualService (or of a duplicated one, or of an invalid one
    /// not in force), with who claims it: checks for these are denied (403) rather than falling
    /// through to another virtual host.
    pub denied: BTreeMap<String, BTreeSet<ObjectKey>>,
    /// One error per contested domain of each claimant.
    pub errors: Vec<ConfigError>,
}

/// Applies the domain rule to every claim: a domain claimed by two or more copies (two
/// VirtualServices, or two copies of one) is contested; each claimant of a contested domain is
/// rejected, and all of its domains are denied. `duplicated` are VirtualServices rejected as
/// duplicates already, and claims not in force are invalid VirtualServices: their domains are
/// denied too.
pub fn domains(claims: &[Claim<'_>], duplicated: &BTreeSet<ObjectKey>) -> DomainRuling {
    let mut claimants: BTreeMap<&str, Vec<&Claim<'_>>> = BTreeMap::new();
    // how many copies of one VirtualService claim a domain: they do not contest it together
    let mut copies: BTreeMap<(&str, &ObjectKey), usize> = BTreeMap::new();
    for claim in claims {
        let mut seen = BTreeSet::new();
        for d in claim.domains {
            // a VirtualService naming a domain twice does not contest it with itself
            if seen.insert(d.as_str()) {
                claimants.entry(d.as_str()).or_default().push(claim);
                *copies.entry((d.as_str(), claim.key)).or_default() += 1;
            }
        }
    }
    let mut ruling = DomainRuling::default();
    for claim in claims {
        // each contested domain with its index and how many other VirtualServices' copies claim it
        let contested: Vec<(usize, &String, usize)> = claim
            .domains
            .iter()
            .enumerate()
            .filter_map(|(i, d)| {
                let others = claimants[d.as_str()].len() - copies[&(d.as_str(), claim.key)];
                (others > 0).then_some((i, d, others))
            })
            .collect();
        let rejected = !contested.is_empty() || duplicated.contains(claim.key);
        if claim.in_force && !rejected {
            continue;
        }
        if claim.in_force {
            ruling.rejected.insert(claim.key.clone());
        }
        for d in claim.domains {
            ruling
                .denied
                .entry(d.clone())
                .or_default()
                .insert(claim.key.clone());
        }
        // an invalid VirtualService has its own errors already
        let contested = if claim.in_force {
            contested
        } else {
            Vec::new()
        };
        for (i, domain, count) in contested {
            let others = claimants[domain.as_str()]
                .iter()
                // copies of one VirtualService are reported as a duplicate instead
                .filter(|c| c.key != claim.key)
                .map(|c| {
                    let state = if c.in_force { "" } else { ", invalid" };
                    format!("VirtualService {} ({}{state})", c.key, where_(c.source))
                });
            let others = abbreviated(others, count);
            ruling.errors.push(ConfigError {
                file: claim.source.file.clone(),
                document: Some(claim.source.document),
                resource: Some(format!("VirtualService {}", claim.key)),
                field: Some(format!("spec.virtualHost.domains[{i}]")),
                line: None,
                column: None,
                message: format!(
                    "domain `{domain}` is also claimed by {others}; none of them is loaded, and checks for all of their domains are denied (403) until only one claims it"
                ),
            });
        }
    }
    // a duplicated VirtualService is rejected as a whole; it has no claim of its own here
    ruling.rejected.retain(|k| !duplicated.contains(k));
    ruling
}

/// Every document that names a resource, valid or not: what duplicates are counted over.
pub fn definitions<C: Compile>(outcomes: &[(PathBuf, Arc<FileOutcome<C>>)]) -> Vec<Definition> {
    let mut out = Vec::new();
    for (path, outcome) in outcomes {
        for doc in &outcome.documents {
            let (id, document) = match doc {
                DocumentOutcome::Valid(res) => ((res.kind, res.key.clone()), res.source.document),
                DocumentOutcome::Invalid {
                    identity: Some(id),
                    errors,
                    ..
                } => (
                    id.clone(),
                    errors.iter().find_map(|e| e.document).unwrap_or(1),
                ),
                DocumentOutcome::Invalid { identity: None, .. } => continue,
            };
            let source = Source {
                file: path.clone(),
                document,
            };
            out.push(Definition { id, source });
        }
    }
    out
}

/// The domain rule over the VirtualServices in force, every valid copy of a duplicated one,
/// and every invalid one of which no version is in force.
pub fn rule_on_domains<C: Compile>(
    resources: &BTreeMap<ResourceId, Arc<Loaded<C>>>,
    outcomes: &[(PathBuf, Arc<FileOutcome<C>>)],
    duplicated: &BTreeMap<ResourceId, Vec<Source>>,
) -> DomainRuling {
    let in_force = resources.values().map(|l| &l.resource);
    let copies = outcomes
        .iter()
        .flat_map(|(_, o)| &o.documents)
        .filter_map(|doc| match doc {
            DocumentOutcome::Valid(res)
                if duplicated.contains_key(&(res.kind, res.key.clone())) =>
            {
                Some(res)
            }
            _ => None,
        });
    let mut claims: Vec<Claim<'_>> = in_force
        .chain(copies)
        .filter_map(|res| match &res.content {
            Content::VirtualService(vs) => Some(Claim {
                key: &res.key,
                source: &res.source,
                domains: vs.domains(),
                // a duplicated copy is rejected as a duplicate
                in_force: true,
            }),
            Content::AuthConfig(_) | Content::Upstream(_) => None,
        })
        .collect();
    let invalid: Vec<(&ObjectKey, Source, &[String])> = outcomes
        .iter()
        .flat_map(|(path, o)| o.documents.iter().map(move |doc| (path, doc)))
        .filter_map(|(path, doc)| match doc {
            DocumentOutcome::Invalid {
                identity: Some((Kind::VirtualService, key)),
                domains,
                errors,
            } if !domains.is_empty()
                && !resources.contains_key(&(Kind::VirtualService, key.clone())) =>
            {
                let document = errors.iter().find_map(|e| e.document).unwrap_or(1);
                let source = Source {
                    file: path.clone(),
                    document,
                };
                Some((key, source, domains.as_slice()))
            }
            _ => None,
        })
        .collect();
    claims.extend(invalid.iter().map(|(key, source, domains)| Claim {
        key,
        source,
        domains,
        in_force: false,
    }));
    let duplicated_services = duplicated
        .keys()
        .filter(|(kind, _)| *kind == Kind::VirtualService)
        .map(|(_, key)| key.clone())
        .collect();
    domains(&claims, &duplicated_services)
}

fn where_(source: &Source) -> String {
    format!("{} document {}", source.file.display(), source.document)
}

#[cfg(test)]
mod tests;
