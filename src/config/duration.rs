//! Durations as Gloo writes them (`3s`, `500ms`, `1.5s`) and as people write them (`1m 30s`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration field of a config resource.
///
/// Accepts protobuf's JSON form (`1.5s`, `0.250s`) and humantime's (`500ms`, `1m 30s`), so the
/// YAML that works in Gloo works here unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConfigDuration(pub Duration);

/// The longest duration any field accepts (a day): far above any sensible timeout, far below
/// what Envoy's durations hold, so no arithmetic on config values can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Parses one duration string (at most [`MAX_DURATION`]), returning a message fit for a
/// config error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let parsed = parse_unbounded(text.trim())?;
    if parsed > MAX_DURATION {
        return Err(format!(
            "duration `{}` is longer than the maximum of 24h",
            text.trim()
        ));
    }
    Ok(parsed)
}

fn parse_unbounded(text: &str) -> Result<Duration, String> {
    if let Some(seconds) = text.strip_suffix('s') {
        // protobuf JSON form: a decimal number of seconds
        if !seconds.is_empty() && seconds.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return seconds
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s < 1e9)
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("invalid duration `{text}`"));
        }
    }
    humantime::parse_duration(text).map_err(|e| {
        format!("invalid duration `{text}` ({e}); write it like `3s`, `500ms` or `1.5s`")
    })
}

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = ConfigDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as `3s`, `500ms` or `1.5s`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                parse_duration(v).map(ConfigDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}s", self.0.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gloo_and_human_forms() {
        assert_eq!(parse_duration("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            parse_duration("0.250s").unwrap(),
            Duration::from_millis(250)
        );
        assert_eq!(parse_duration("1m 30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "s", "3", "-1s", "1.2.3s", "soon", "1e400s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn at_most_a_day() {
        assert_eq!(parse_duration("24h").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration("86400s").unwrap(), MAX_DURATION);
        for long in ["24h 1s", "86400.5s", "99999999h", "300000000000years"] {
            let e = parse_duration(long).unwrap_err();
            assert!(e.contains("maximum of 24h"), "{long}: {e}");
        }
    }
}
