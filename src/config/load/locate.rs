//! Where a field sits in a document's text: the line and column of the node at a field path
//! (`spec.configs[0].passThroughAuth.http.url`), or of its key, for errors that only know the
//! path (the typed read of a value tree, the compile step).
//!
//! The parsers give positions only in their errors, so the document is read once more with a
//! visitor that follows the path and fails when it stands on the node: the failure's position
//! is the node's.

use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// Which position of a map entry an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// The key (an unknown field).
    Key,
    /// The value (a wrong value, or the start of a map missing a field).
    Value,
}

/// The marker of the visitor's own failure, followed by the kind of node it stands on.
const HERE: &str = "\u{0}extauth-locate-here:";

/// What the visitor stood on when it failed (JSON reports the position after some tokens).
#[derive(Clone, Copy)]
enum Node {
    Scalar,
    Text,
    Open,
}

impl Node {
    fn tag(self) -> char {
        match self {
            Node::Scalar => 's',
            Node::Text => 't',
            Node::Open => 'o',
        }
    }
}

/// Follows `rest` (a field path below the current node) and fails on the node it names.
struct Seek<'a> {
    rest: &'a str,
    at: At,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

fn here<E: de::Error>(node: Node) -> E {
    E::custom(format!("{HERE}{}", node.tag()))
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.scalar(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.scalar(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.scalar(Node::Text)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.rest.is_empty() {
            return Err(here(Node::Open));
        }
        let Some((index, rest)) = split_index(self.rest) else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let mut i = 0;
        loop {
            let found = if i == index {
                seq.next_element_seed(Seek { rest, at: self.at })?
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if found.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.rest.is_empty() {
            return Err(here(Node::Open));
        }
        while let Some(key) = map.next_key_seed(KeySeek {
            rest: self.rest,
            at: self.at,
        })? {
            match key {
                Some(rest) => map.next_value_seed(Seek { rest, at: self.at })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (_, variant) = data.variant::<IgnoredAny>()?;
        variant.newtype_variant_seed(self)
    }
}

impl Seek<'_> {
    fn scalar<E: de::Error>(self, node: Node) -> Result<(), E> {
        if self.rest.is_empty() {
            Err(here(node))
        } else {
            Ok(())
        }
    }
}

/// `[3].a` → (3, `a`); `[3][1]` → (3, `[1]`).
fn split_index(rest: &str) -> Option<(usize, &str)> {
    let inner = rest.strip_prefix('[')?;
    let (index, after) = inner.split_once(']')?;
    Some((
        index.parse().ok()?,
        after.strip_prefix('.').unwrap_or(after),
    ))
}

/// A map key: `Some(rest below it)` when the path goes through it, failing on it when the
/// path ends at it and the key is wanted.
struct KeySeek<'a> {
    rest: &'a str,
    at: At,
}

impl<'de, 'a> DeserializeSeed<'de> for KeySeek<'a> {
    type Value = Option<&'a str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 'a> Visitor<'de> for KeySeek<'a> {
    type Value = Option<&'a str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        let Some(after) = self.rest.strip_prefix(key) else {
            return Ok(None);
        };
        if after.is_empty() {
            return match self.at {
                At::Key => Err(here(Node::Text)),
                At::Value => Ok(Some("")),
            };
        }
        Ok(after
            .strip_prefix('.')
            .or_else(|| after.starts_with('[').then_some(after)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_str("null")
    }
}

/// Line and column (1-based) of the node at `field` (`""`: the document) in the `index`-th
/// (1-based) YAML document of `text`.
pub fn yaml(text: &str, index: usize, field: &str, at: At) -> Option<(usize, usize)> {
    let doc = serde_norway::Deserializer::from_str(text).nth(index.checked_sub(1)?)?;
    let err = Seek { rest: field, at }.deserialize(doc).err()?;
    marker(&err.to_string())?;
    err.location().map(|l| (l.line(), l.column()))
}

/// Line and column (1-based) of the node at `field` in a JSON `text`.
pub fn json(text: &str, field: &str, at: At) -> Option<(usize, usize)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let err = Seek { rest: field, at }.deserialize(&mut de).err()?;
    let node = marker(&err.to_string())?;
    let line = err.line().checked_sub(1)?;
    let row = text.split('\n').nth(line)?.as_bytes();
    // serde_json stands on a token's last byte (a string's closing quote), or just inside an
    // opening bracket: walk back to where the token starts
    let mut i = err.column().checked_sub(1)?.min(row.len().checked_sub(1)?);
    match node {
        Node::Text => {
            i = i.saturating_sub(1);
            while i > 0 && !(row[i] == b'"' && escaped_by(row, i).is_multiple_of(2)) {
                i -= 1;
            }
        }
        Node::Scalar => {
            while i > 0 && is_scalar_byte(row[i - 1]) {
                i -= 1;
            }
        }
        Node::Open => {
            while i > 0 && !matches!(row[i], b'{' | b'[') {
                i -= 1;
            }
        }
    }
    Some((line + 1, i + 1))
}

fn marker(message: &str) -> Option<Node> {
    let tag = message.split(HERE).nth(1)?.chars().next()?;
    Some(match tag {
        't' => Node::Text,
        'o' => Node::Open,
        _ => Node::Scalar,
    })
}

/// How many backslashes stand right before `row[i]`.
fn escaped_by(row: &[u8], i: usize) -> usize {
    row[..i].iter().rev().take_while(|b| **b == b'\\').count()
}

fn is_scalar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+')
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "a: 1\nspec:\n  configs:\n  - name: x\n    http: {url: 'u', t: 0s}\n  - name: y\n    bogus: [1, 2]\n---\nb: !!str 2\n";

    #[test]
    fn yaml_nodes_and_keys_are_found_by_field_path() {
        let at = |field, at| yaml(YAML, 1, field, at);
        assert_eq!(at("spec.configs[0].http.t", At::Value), Some((5, 25)));
        assert_eq!(at("spec.configs[1].bogus", At::Key), Some((7, 5)));
        assert_eq!(at("spec.configs[1].bogus[1]", At::Value), Some((7, 16)));
        assert_eq!(at("spec.configs[1]", At::Value), Some((6, 5)));
        assert_eq!(at("", At::Value), Some((1, 1)));
        assert_eq!(at("spec.nope", At::Value), None);
        assert_eq!(at("spec.configs[7]", At::Value), None);
        assert_eq!(yaml(YAML, 2, "b", At::Value), Some((9, 4)));
        assert_eq!(yaml(YAML, 3, "b", At::Value), None);
    }

    #[test]
    fn json_positions_are_where_the_token_starts() {
        let text = "{\"a\": 1,\n \"spec\": {\"configs\": [\n  {\"name\": \"x\", \"http\": {\"url\": \"u\", \"t\": \"0\\\"s\"}},\n  {\"bogus\": [1,  22], \"m\": {\"k\": true}}]}}";
        assert_eq!(
            json(text, "spec.configs[0].http.t", At::Value),
            Some((3, 43))
        );
        assert_eq!(json(text, "spec.configs[1].bogus", At::Key), Some((4, 4)));
        assert_eq!(
            json(text, "spec.configs[1].bogus[1]", At::Value),
            Some((4, 18))
        );
        assert_eq!(json(text, "spec.configs[1].m", At::Value), Some((4, 28)));
        assert_eq!(json(text, "spec.configs[1]", At::Value), Some((4, 3)));
        assert_eq!(json(text, "spec.nope", At::Value), None);
    }
}
