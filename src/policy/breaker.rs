//! A step's `circuitBreaker` (an extauth extension), checked and compiled into
//! [`BreakerSettings`].

use std::time::Duration;

use super::FieldError;
use crate::config::types::CircuitBreakerConfig;

/// The compiled `circuitBreaker` of a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Errors in a row that open the breaker (at least 1).
    pub consecutive_errors: u32,
    /// How long it stays open before one probe call goes out (more than 0).
    pub open_for: Duration,
}

/// The settings of a step's `circuitBreaker` block (`config`, unset: off) in the `http`
/// block at `http_path`, or `None` with every problem pushed to `errors`.
pub fn compile_breaker(
    config: Option<&CircuitBreakerConfig>,
    http_path: &str,
    errors: &mut Vec<FieldError>,
) -> Option<BreakerSettings> {
    let config = config?;
    let path = format!("{http_path}.circuitBreaker");
    let before = errors.len();
    if config.consecutive_errors == 0 {
        errors.push(FieldError::new(
            format!("{path}.consecutiveErrors"),
            "must be at least 1",
        ));
    }
    if config.open_for.0.is_zero() {
        errors.push(FieldError::new(
            format!("{path}.openFor"),
            "must be greater than 0",
        ));
    }
    (errors.len() == before).then_some(BreakerSettings {
        consecutive_errors: config.consecutive_errors,
        open_for: config.open_for.0,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::types::AuthConfigSpec;
    use crate::policy::{compile, AuthPolicy, FieldError};

    const HTTP: &str = "spec.configs[0].passThroughAuth.http";

    fn compiled(breaker: &str) -> Result<AuthPolicy, Vec<FieldError>> {
        let yaml = format!(
            "configs: [{{passThroughAuth: {{http: {{url: 'http://a/x', circuitBreaker: {breaker}}}}}}}]"
        );
        let spec: AuthConfigSpec = serde_norway::from_str(&yaml)
            .map_err(|e| vec![FieldError::new("(parse)", e.to_string())])?;
        compile(&spec)
    }

    #[test]
    fn settings_are_compiled() {
        let p = compiled("{consecutiveErrors: 5, openFor: 10s}").unwrap();
        let b = p.steps[0].breaker.expect("a breaker");
        assert_eq!(b.consecutive_errors, 5);
        assert_eq!(b.open_for, std::time::Duration::from_secs(10));
    }

    #[test]
    fn off_by_default() {
        let spec: AuthConfigSpec =
            serde_norway::from_str("configs: [{passThroughAuth: {http: {url: 'http://a/x'}}}]")
                .unwrap();
        assert!(compile(&spec).unwrap().steps[0].breaker.is_none());
    }

    #[test]
    fn zero_values_are_errors_naming_their_field() {
        let errors = compiled("{consecutiveErrors: 0, openFor: 0s}").unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                format!("{HTTP}.circuitBreaker.consecutiveErrors"),
                format!("{HTTP}.circuitBreaker.openFor"),
            ]
        );
    }

    #[test]
    fn both_fields_are_required_and_nothing_else_is_accepted() {
        for bad in [
            "{consecutiveErrors: 5}",
            "{openFor: 10s}",
            "{consecutiveErrors: 5, openFor: 10s, halfOpenCalls: 2}",
            "{consecutiveErrors: -1, openFor: 10s}",
            "{consecutiveErrors: 5, openFor: soon}",
        ] {
            let errors = compiled(bad).unwrap_err();
            assert_eq!(errors[0].path, "(parse)", "{bad}: {errors:?}");
        }
    }
}
