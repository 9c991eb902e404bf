//! Logging setup: env_logger filtered by `RUST_LOG` (`info` by default), in env_logger's text
//! format or as one JSON object per line (`--log-format json`), and the list of headers whose
//! values never reach a log line (`--redact-headers`).
//!
//! actix-http's ERROR line for each malformed request on a listening port is counted and
//! demoted to trace instead (see `malformed`), so that nobody who can reach the check port can
//! flood the error log.
//!
//! Log calls keep their message short and put what a program may filter on in structured
//! fields (`log`'s key-values): the text format appends them as `key=value`, the JSON format
//! writes them as members of the line's object.

mod json;
mod malformed;
mod redact;

use std::io::{self, Write};

use env_logger::fmt::Formatter;
use log::kv::{Key, Source, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};

pub use malformed::counter as malformed_requests;

pub use redact::{
    is_redacted, redacted_headers, set_redacted_headers, RedactedHeaders, DEFAULT_REDACTED,
};

/// The shape of log lines.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// env_logger's human format: `[ts LEVEL target] message key=value ...`.
    #[default]
    Text,
    /// One JSON object per line: `level`, `ts`, `logger`, `caller`, `msg`, then the fields.
    Json,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// A logger was installed already.
    #[error("cannot install the logger: {0}")]
    Install(#[from] log::SetLoggerError),
}

/// Installs the process logger: `RUST_LOG` (default `info`) filters, `format` shapes the lines,
/// and the values of `redact` headers are replaced wherever headers are logged.
pub fn init(format: LogFormat, redact: &[String]) -> Result<(), LoggingError> {
    set_redacted_headers(redact);
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    match format {
        LogFormat::Text => {
            builder.format_key_values(text_fields);
        }
        LogFormat::Json => {
            builder
                .write_style(env_logger::WriteStyle::Never)
                .format(json::format);
        }
    }
    let inner = builder.build();
    // the malformed-request lines are counted whatever the filter lets through
    let max_level = inner.filter().max(LevelFilter::Error);
    log::set_boxed_logger(Box::new(Logger { inner }))?;
    log::set_max_level(max_level);
    Ok(())
}

/// The process logger: env_logger, except for actix-http's line about each malformed request,
/// which is counted and passed on at trace level.
struct Logger {
    inner: env_logger::Logger,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        malformed::may_be_malformed(metadata) || self.inner.enabled(metadata)
    }

    fn log(&self, record: &Record) {
        let Some(error) = malformed::malformed_error(record) else {
            return self.inner.log(record);
        };
        malformed::observed(&error);
        let demoted = Record::builder()
            .level(Level::Trace)
            .target(record.target())
            .args(*record.args())
            .module_path(record.module_path())
            .file(record.file())
            .line(record.line())
            .build();
        if self.inner.enabled(demoted.metadata()) {
            self.inner.log(&demoted);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Appends the fields of a text line as ` key=value`, quoting values that hold spaces, quotes
/// or nothing, so that each line stays one unambiguous record.
fn text_fields(buf: &mut Formatter, fields: &dyn Source) -> io::Result<()> {
    struct Visit<'a>(&'a mut Formatter);
    impl<'kvs> VisitSource<'kvs> for Visit<'_> {
        fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
            let text = value.to_string();
            let plain = !text.is_empty()
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '=' || c.is_control());
            if plain {
                write!(self.0, " {key}={text}")?;
            } else {
                write!(self.0, " {key}={}", serde_json::Value::String(text))?;
            }
            Ok(())
        }
    }
    fields.visit(&mut Visit(buf)).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::json::line;

    #[test]
    fn json_line_has_the_seed_members_and_fields() {
        let record = log::Record::builder()
            .level(log::Level::Info)
            .target("extauth::config::watch")
            .file(Some("src/config/watch.rs"))
            .line(Some(97))
            .args(format_args!("got new config"))
            .key_values(&[("changes", "added [AuthConfig a/b]"), ("msg", "clash")])
            .build();
        let text = line(&record, "2026-01-01T00:00:00.000Z");
        assert!(!text.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["level"], "info");
        assert_eq!(v["ts"], "2026-01-01T00:00:00.000Z");
        assert_eq!(v["logger"], "extauth");
        assert_eq!(v["caller"], "src/config/watch.rs:97");
        assert_eq!(v["msg"], "got new config");
        assert_eq!(v["changes"], "added [AuthConfig a/b]");
        assert_eq!(v["field_msg"], "clash");
    }

    #[test]
    fn json_keeps_numbers_and_booleans() {
        let record = log::Record::builder()
            .level(log::Level::Warn)
            .target("extauth::check")
            .args(format_args!("check failed"))
            .key_values(&[("duration_ms", 12.5f64)])
            .build();
        let v: serde_json::Value = serde_json::from_str(&line(&record, "t")).unwrap();
        assert_eq!(v["duration_ms"], 12.5);
        assert_eq!(v["level"], "warn");
    }
}
