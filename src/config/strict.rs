//! Reading documents strictly: a mapping that writes a key twice is an error, in JSON as in
//! YAML, located at the second key and named by its field path.
//!
//! serde_json keeps the last of two equal keys without a word, so that `"options"` written
//! twice loads whichever came last; serde_norway rejects the repeat but locates it at the
//! start of the mapping. One visitor serves both: it builds the JSON value, and walks a YAML
//! document again when serde_norway reported a repeat, to find the key.

use std::cell::RefCell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};

/// A key written twice in one mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DuplicateKey {
    /// Field path of the key, in the style of the loader's other errors
    /// (`spec.virtualHost.options`, `spec.configs[0].name`).
    pub field: String,
    /// The key as written.
    pub key: String,
    /// 1-based line and column of the second key, when the parser tells.
    pub at: Option<(usize, usize)>,
}

impl DuplicateKey {
    /// The error message, the one serde_norway gives.
    pub fn message(&self) -> String {
        format!("duplicate entry with key {:?}", self.key)
    }
}

/// Why a JSON text was rejected: a syntax error, or a repeated key (located at the key).
#[derive(Debug)]
pub enum JsonError {
    /// Not JSON, as serde_json says.
    Syntax(serde_json::Error),
    /// An object repeats a key.
    Duplicate(DuplicateKey),
}

/// Parses one JSON value whose objects never repeat a key.
pub fn json(text: &str) -> Result<Value, JsonError> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Node {
        path: &Path::Root,
        found: &found,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| match found.into_inner() {
        Some(mut dup) => {
            // serde_json stands on the key's closing quote: step back to its opening one
            let written = serde_json::to_string(&dup.key).map_or(1, |k| k.len());
            let column = (e.column() + 1).saturating_sub(written).max(1);
            dup.at = (e.line() > 0).then_some((e.line(), column));
            JsonError::Duplicate(dup)
        }
        None => JsonError::Syntax(e),
    })
}

/// The first key a YAML document repeats, located at the key, if it repeats one.
pub fn yaml_duplicate(doc: serde_norway::Deserializer) -> Option<DuplicateKey> {
    let found = RefCell::new(None);
    let err = Node {
        path: &Path::Root,
        found: &found,
    }
    .deserialize(doc)
    .err()?;
    let mut dup = found.into_inner()?;
    dup.at = err.location().map(|l| (l.line(), l.column()));
    Some(dup)
}

/// Where a value sits, as a chain of parents (rendered only for an error).
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// A value at `path`; the first repeated key found below it goes to `found`.
struct Node<'a> {
    path: &'a Path<'a>,
    found: &'a RefCell<Option<DuplicateKey>>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Node {
            path: &Path::Index(self.path, items.len()),
            found: self.found,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Key {
            seen: &out,
            path: self.path,
            found: self.found,
        })? {
            let value = map.next_value_seed(Node {
                path: &Path::Key(self.path, &key),
                found: self.found,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }

    /// A YAML tagged value (`!tag value`): the value counts, the tag does not.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (_, variant) = data.variant::<de::IgnoredAny>()?;
        variant.newtype_variant_seed(self)
    }
}

/// A mapping's key, checked against the keys read before it: the error is raised while the
/// parser stands on the repeated key, so that it locates the key.
struct Key<'a> {
    seen: &'a Map<String, Value>,
    path: &'a Path<'a>,
    found: &'a RefCell<Option<DuplicateKey>>,
}

impl Key<'_> {
    fn check<E: de::Error>(self, key: String) -> Result<String, E> {
        if !self.seen.contains_key(&key) {
            return Ok(key);
        }
        let dup = DuplicateKey {
            field: Path::Key(self.path, &key).to_string(),
            key,
            at: None,
        };
        let err = E::custom(dup.message());
        *self.found.borrow_mut() = Some(dup);
        Err(err)
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.check(v.to_string())
    }

    // YAML keys need not be strings; they are compared as written
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.check(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.check(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.check(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.check(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.check("null".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_dup(text: &str) -> DuplicateKey {
        match json(text) {
            Err(JsonError::Duplicate(dup)) => dup,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_values_are_read_as_serde_json_reads_them() {
        let text = r#"{"a": [1, -2, 1.5, "s", true, null, {"b": {}}], "c": {"a": 1}}"#;
        assert_eq!(
            json(text).unwrap(),
            serde_json::from_str::<Value>(text).unwrap()
        );
        assert!(json("{\"a\": 1} x").is_err(), "trailing characters");
        assert!(matches!(json("{\"a\": 1,}"), Err(JsonError::Syntax(_))));
    }

    #[test]
    fn a_repeated_json_key_is_located_at_every_level() {
        assert_eq!(
            json_dup("{\"kind\": \"a\",\n \"kind\": \"b\"}"),
            DuplicateKey {
                field: "kind".into(),
                key: "kind".into(),
                at: Some((2, 2))
            }
        );
        let text =
            "{\"spec\": {\"virtualHost\": {\n  \"options\": {\"a\": 1},\n  \"options\": {}}}}";
        let dup = json_dup(text);
        assert_eq!(dup.field, "spec.virtualHost.options");
        assert_eq!(dup.at, Some((3, 3)));
        let text = "{\"spec\": {\"configs\": [{}, {\"name\": \"x\", \"name\": \"y\"}]}}";
        let dup = json_dup(text);
        assert_eq!(dup.field, "spec.configs[1].name");
        assert_eq!(dup.message(), "duplicate entry with key \"name\"");
        assert_eq!(dup.at, Some((1, 41)));
    }

    #[test]
    fn a_repeated_yaml_key_is_located_at_the_key() {
        let yaml = "a: 1\nb:\n  - x: 1\n  - x: 1\n    y: 2\n    x: 3\n";
        let doc = serde_norway::Deserializer::from_str(yaml).next().unwrap();
        let dup = yaml_duplicate(doc).unwrap();
        assert_eq!(dup.field, "b[1].x");
        assert_eq!(dup.at, Some((6, 5)));
        let doc = serde_norway::Deserializer::from_str("a: !t {b: 1}\nc: 2\n")
            .next()
            .unwrap();
        assert_eq!(yaml_duplicate(doc), None);
    }
}
