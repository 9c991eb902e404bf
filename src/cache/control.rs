//! How long an answer may be reused: the auth service's `Cache-Control`, capped by the
//! step's `maxAge` (allows) or `denyMaxAge` (denials). Only a 200 and a denial that is not a
//! 5xx are ever cached; anything that failed is not.

use std::time::Duration;

use actix_web::http::header::{HeaderMap, CACHE_CONTROL};

use crate::policy::CacheSettings;

/// What kind of answer a step got, as far as caching goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A 200 (with a readable state when the step reads one).
    Allow,
    /// A denial: any other answer that is not a 5xx.
    Deny,
    /// No usable answer: 5xx, timeout, refused or reset connection, malformed answer,
    /// unreadable state, an open circuit breaker. Never cached; stale-if-error may answer.
    Failed,
}

/// What the answer's `Cache-Control` says about storing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// Nothing about freshness: the configured lifetime applies.
    Unspecified,
    /// Fresh for this long (`s-maxage` for a shared cache such as this one, else `max-age`).
    MaxAge(Duration),
    /// `no-store`, `no-cache`, `private`, or a directive that cannot be read: not stored.
    DoNotStore,
}

/// Reads every `Cache-Control` header of an answer.
pub fn directive(headers: &HeaderMap) -> Directive {
    read(headers).unwrap_or(Directive::DoNotStore)
}

/// The directive, or `None` when it cannot be read (which is not stored either).
fn read(headers: &HeaderMap) -> Option<Directive> {
    let (mut max_age, mut s_maxage) = (None, None);
    for value in headers.get_all(CACHE_CONTROL) {
        for part in value.to_str().ok()?.split(',').map(str::trim) {
            let (name, arg) = match part.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (part, None),
            };
            let seconds = || arg?.parse::<u64>().ok();
            if ["no-store", "no-cache", "private"]
                .iter()
                .any(|d| name.eq_ignore_ascii_case(d))
            {
                return Some(Directive::DoNotStore);
            } else if name.eq_ignore_ascii_case("max-age") {
                max_age = Some(seconds()?);
            } else if name.eq_ignore_ascii_case("s-maxage") {
                s_maxage = Some(seconds()?);
            }
        }
    }
    Some(match s_maxage.or(max_age) {
        // far beyond any cap; keeps the arithmetic of a huge value harmless
        Some(seconds) => Directive::MaxAge(Duration::from_secs(seconds.min(u32::MAX.into()))),
        None => Directive::Unspecified,
    })
}

/// How long an answer of kind `verdict` with `headers` stays fresh in a cache configured by
/// `settings`; `None`: it is not cached.
pub fn lifetime(
    settings: &CacheSettings,
    verdict: Verdict,
    headers: &HeaderMap,
) -> Option<Duration> {
    let cap = match verdict {
        Verdict::Allow => settings.max_age,
        Verdict::Deny => settings.deny_max_age,
        Verdict::Failed => return None,
    };
    if cap.is_zero() {
        return None;
    }
    let fresh = match directive(headers) {
        Directive::Unspecified => cap,
        Directive::MaxAge(age) => age.min(cap),
        Directive::DoNotStore => return None,
    };
    (!fresh.is_zero()).then_some(fresh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    const S: Duration = Duration::from_secs(1);

    fn settings() -> CacheSettings {
        CacheSettings {
            max_age: 30 * S,
            deny_max_age: 5 * S,
            stale_if_error: Duration::ZERO,
            max_entries: 10,
        }
    }

    fn cc(values: &[&'static str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CACHE_CONTROL, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn directives() {
        assert_eq!(directive(&cc(&[])), Directive::Unspecified);
        assert_eq!(directive(&cc(&["public"])), Directive::Unspecified);
        assert_eq!(directive(&cc(&["max-age=10"])), Directive::MaxAge(10 * S));
        assert_eq!(directive(&cc(&["Max-Age=\"7\""])), Directive::MaxAge(7 * S));
        assert_eq!(
            directive(&cc(&["max-age=10, s-maxage=3"])),
            Directive::MaxAge(3 * S),
            "s-maxage speaks to shared caches"
        );
        assert_eq!(
            directive(&cc(&["public", "max-age=4"])),
            Directive::MaxAge(4 * S),
            "several headers"
        );
        for never in [
            &["no-store"][..],
            &["max-age=10, no-cache"],
            &["private, max-age=10"],
            &["private=\"set-cookie\""],
            &["max-age=10", "NO-STORE"],
            &["max-age=soon"],
            &["max-age=-1"],
            &["max-age"],
        ] {
            assert_eq!(directive(&cc(never)), Directive::DoNotStore, "{never:?}");
        }
    }

    #[test]
    fn lifetimes_are_capped_by_the_settings() {
        let s = settings();
        assert_eq!(lifetime(&s, Verdict::Allow, &cc(&[])), Some(30 * S));
        assert_eq!(
            lifetime(&s, Verdict::Allow, &cc(&["max-age=10"])),
            Some(10 * S)
        );
        assert_eq!(
            lifetime(&s, Verdict::Allow, &cc(&["max-age=99"])),
            Some(30 * S)
        );
        assert_eq!(lifetime(&s, Verdict::Allow, &cc(&["max-age=0"])), None);
        assert_eq!(lifetime(&s, Verdict::Allow, &cc(&["no-store"])), None);
        assert_eq!(lifetime(&s, Verdict::Deny, &cc(&[])), Some(5 * S));
        assert_eq!(
            lifetime(&s, Verdict::Deny, &cc(&["max-age=2"])),
            Some(2 * S)
        );
        assert_eq!(
            lifetime(&s, Verdict::Deny, &cc(&["max-age=60"])),
            Some(5 * S)
        );
        assert_eq!(lifetime(&s, Verdict::Failed, &cc(&[])), None);
        assert_eq!(lifetime(&s, Verdict::Failed, &cc(&["max-age=60"])), None);
        let no_denials = CacheSettings {
            deny_max_age: Duration::ZERO,
            ..s
        };
        assert_eq!(
            lifetime(&no_denials, Verdict::Deny, &cc(&["max-age=60"])),
            None
        );
    }
}
