//! The JSON line format, shaped like Gloo's (zap) lines:
//! `{"level":"info","ts":"…","logger":"extauth","caller":"src/config/watch.rs:97","msg":"got new config",…}`.

use std::io::{self, Write};

use env_logger::fmt::Formatter;
use log::kv::{Key, Value, VisitSource};
use log::Record;
use serde_json::{Number, Value as Json};

/// Members every line has; a field with one of these names is written as `field_<name>`.
const RESERVED: [&str; 5] = ["level", "ts", "logger", "caller", "msg"];

/// env_logger's format function for `--log-format json`.
pub fn format(buf: &mut Formatter, record: &Record<'_>) -> io::Result<()> {
    let ts = buf.timestamp_millis().to_string();
    writeln!(buf, "{}", line(record, &ts))
}

/// One record as a JSON object on a single line (without the newline): the fixed members
/// first, in the order above, then the fields in the order they were given.
pub fn line(record: &Record<'_>, ts: &str) -> String {
    let mut members: Vec<(String, Json)> = vec![
        (
            "level".into(),
            record.level().as_str().to_ascii_lowercase().into(),
        ),
        ("ts".into(), ts.into()),
        (
            "logger".into(),
            record
                .target()
                .split("::")
                .next()
                .unwrap_or_default()
                .into(),
        ),
    ];
    if let (Some(file), Some(line)) = (record.file(), record.line()) {
        members.push((
            "caller".into(),
            format!("{}:{line}", short_path(file)).into(),
        ));
    }
    members.push(("msg".into(), record.args().to_string().into()));
    // a field that cannot be visited is dropped; the line itself is still written
    let _ = record.key_values().visit(&mut Fields(&mut members));
    let mut out = String::from("{");
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Json::String(key.clone()).to_string());
        out.push(':');
        out.push_str(&value.to_string());
    }
    out.push('}');
    out
}

/// A dependency's absolute source path shortened to `crate-version/src/file.rs`.
fn short_path(file: &str) -> &str {
    if !file.starts_with('/') {
        return file;
    }
    match file.rfind("/src/") {
        Some(src) => match file[..src].rfind('/') {
            Some(start) => &file[start + 1..],
            None => file,
        },
        None => file,
    }
}

struct Fields<'a>(&'a mut Vec<(String, Json)>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let key = key.as_str();
        let name = if RESERVED.contains(&key) {
            format!("field_{key}")
        } else {
            key.to_string()
        };
        self.0.push((name, to_json(&value)));
        Ok(())
    }
}

/// Numbers and booleans stay numbers and booleans; anything else becomes its text.
fn to_json(value: &Value<'_>) -> Json {
    if let Some(b) = value.to_bool() {
        return Json::Bool(b);
    }
    if let Some(n) = value.to_u64() {
        return Json::Number(n.into());
    }
    if let Some(n) = value.to_i64() {
        return Json::Number(n.into());
    }
    if let Some(n) = value.to_f64().and_then(Number::from_f64) {
        return Json::Number(n);
    }
    Json::String(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::short_path;

    #[test]
    fn dependency_paths_are_shortened() {
        assert_eq!(short_path("src/check/mod.rs"), "src/check/mod.rs");
        assert_eq!(
            short_path(
                "/home/user/.cargo/registry/src/index.crates.io-1/actix-server-2.10.0/src/builder.rs"
            ),
            "actix-server-2.10.0/src/builder.rs"
        );
    }
}
