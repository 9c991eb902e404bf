//! Paths as the generated Envoy normalises them before it routes (`normalize_path`,
//! `merge_slashes`, `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`), so that a check
//! whose path is not in that form can also be routed the way such an Envoy would.
//!
//! Envoy 1.40, measured (see the table in the tests), on the path without its query (the query is
//! never touched), in this order:
//! 1. `%2F`/`%2f` become `/` and `%5C`/`%5c` become `\` (the client is redirected there, and the
//!    redirected request is routed on the result of every step below).
//! 2. A segment that is literally `.` or `..` followed by `;` loses the `;` and what follows it
//!    up to the next `/` (`/a/..;x/b` is `/a/../b`).
//! 3. Chromium's path canonicalisation (Envoy's vendored copy): `\` is `/`; `.` and `..`
//!    segments are resolved, `%2e` counting as a dot; `%XX` of a letter, a digit, `-`, `.`,
//!    `_` or `~` is decoded, other valid escapes are kept as written; control characters,
//!    space, `"`, `#`, `<`, `>`, `^`, `` ` ``, `{`, `|`, `}`, DEL and non-ASCII bytes are
//!    percent-encoded; a `%` that does not start an escape stays, unless the decoding after it
//!    would make one (`%%30%30` is `%2500`); a NUL (`%00` too) makes Envoy reject the request.
//! 4. Runs of `/` become one (but a path of slashes only keeps two: `///` is `//`).

use std::borrow::Cow;

/// Whether `path_and_query` is certainly in the form [`normalize`] gives: a scan of the path
/// (the query is not looked at) without allocating. `false` means "maybe not": the caller
/// normalises and compares.
pub fn is_normal(path_and_query: &str) -> bool {
    let path = path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p)
        .as_bytes();
    if path.first() != Some(&b'/') {
        return false;
    }
    let mut i = 0;
    while i < path.len() {
        let b = path[i];
        match b {
            b'/' => {
                let segment = &path[i + 1..];
                let end = segment
                    .iter()
                    .position(|&c| c == b'/')
                    .unwrap_or(segment.len());
                if segment.first() == Some(&b'/') || is_dot_segment(&segment[..end]) {
                    return false;
                }
            }
            b'%' => match decode_escape(path, i) {
                Some(v) if keeps_escape(v) => i += 2,
                _ => return false,
            },
            b'.' => {}
            _ if flags(b) != PASS && flags(b) != UNESCAPE => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

/// A segment Envoy resolves or rewrites: `.`, `..`, or either followed by `;…`.
fn is_dot_segment(segment: &[u8]) -> bool {
    let head = segment
        .iter()
        .position(|&c| c == b';')
        .map_or(segment, |semi| &segment[..semi]);
    head == b"." || head == b".."
}

/// Whether a valid escape of `value` is kept as written by Envoy (not decoded, not rejected).
fn keeps_escape(value: u8) -> bool {
    value != 0 && value != b'.' && value != b'/' && value != b'\\' && flags(value) & UNESCAPE == 0
}

/// The path with query as the generated Envoy routes it, or `None` when Envoy rejects it (a
/// NUL, or a `#` anywhere). Borrows when nothing changes.
pub fn normalize(path_and_query: &str) -> Option<Cow<'_, str>> {
    let (path, query) = match path_and_query.find('?') {
        Some(q) => path_and_query.split_at(q),
        None => (path_and_query, ""),
    };
    if path_and_query.contains('#') {
        return None;
    }
    let unescaped = unescape_slashes(path);
    let trimmed = strip_dot_parameters(&unescaped);
    let canonical = canonicalize(trimmed.as_bytes())?;
    let merged = merge_slashes(&canonical);
    if merged == path {
        return Some(Cow::Borrowed(path_and_query));
    }
    Some(Cow::Owned(format!("{merged}{query}")))
}

/// Step 1: `%2F`, `%2f`, `%5C`, `%5c`, replaced in that order as Envoy does.
fn unescape_slashes(path: &str) -> Cow<'_, str> {
    if !path.contains('%') {
        return Cow::Borrowed(path);
    }
    let mut out = path.to_string();
    for (from, to) in [("%2F", "/"), ("%2f", "/"), ("%5C", "\\"), ("%5c", "\\")] {
        if out.contains(from) {
            out = out.replace(from, to);
        }
    }
    Cow::Owned(out)
}

/// Step 2: `.;…` and `..;…` segments (split on `/` only) lose their `;…`.
fn strip_dot_parameters(path: &str) -> Cow<'_, str> {
    let needs = path
        .split('/')
        .any(|s| s.contains(';') && is_dot_segment(s.as_bytes()));
    if !needs {
        return Cow::Borrowed(path);
    }
    let segments: Vec<&str> = path
        .split('/')
        .map(|s| match s.split_once(';') {
            Some((head, _)) if head == "." || head == ".." => head,
            _ => s,
        })
        .collect();
    Cow::Owned(segments.join("/"))
}

/// Step 4: Envoy's `merge_slashes` (on the path only).
fn merge_slashes(path: &str) -> Cow<'_, str> {
    if !path.contains("//") {
        return Cow::Borrowed(path);
    }
    let lead = if path.starts_with('/') { "/" } else { "" };
    let trail = if path.ends_with('/') { "/" } else { "" };
    let inner: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    Cow::Owned(format!("{lead}{}{trail}", inner.join("/")))
}

// Character classes of Chromium's path canonicaliser (url_canon_path.cc, `kPathCharLookup`).
/// Copied as is.
const PASS: u8 = 0;
/// Needs a look (dot, `%`); set on every class below except UNESCAPE.
const SPECIAL: u8 = 1;
/// Percent-encoded in the output.
const ESCAPE: u8 = 2 | SPECIAL;
/// Decoded when percent-encoded.
const UNESCAPE: u8 = 4;
/// Fails the canonicalisation (Envoy answers 400).
const INVALID: u8 = 8 | SPECIAL;

fn flags(b: u8) -> u8 {
    match b {
        0 => INVALID,
        b'.' => SPECIAL,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'~' => UNESCAPE,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'/' | b':' | b';'
        | b'=' | b'@' | b'[' | b']' => PASS,
        // control characters, space, " # % < > ? \ ^ ` { | } DEL and every non-ASCII byte
        _ => ESCAPE,
    }
}

/// The byte a valid `%XX` at `at` stands for.
fn decode_escape(s: &[u8], at: usize) -> Option<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let (hi, lo) = (hex(*s.get(at + 1)?)?, hex(*s.get(at + 2)?)?);
    Some((hi * 16 + lo) as u8)
}

/// The length of a dot (`.` or `%2e`) at `at`, or 0.
fn dot_len(s: &[u8], at: usize) -> usize {
    match s.get(at..) {
        Some([b'.', ..]) => 1,
        Some([b'%', b'2', b'e' | b'E', ..]) => 3,
        _ => 0,
    }
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
}

/// Step 3: Chromium's `CanonicalizePath` (`DoPath` and `DoPartialPath`); `None` when it fails.
fn canonicalize(spec: &[u8]) -> Option<String> {
    let mut out: Vec<u8> = Vec::with_capacity(spec.len() + 1);
    if spec.is_empty() {
        return Some("/".into());
    }
    if !matches!(spec[0], b'/' | b'\\') {
        out.push(b'/');
    }
    let end = spec.len();
    let mut last_invalid_percent: Option<usize> = None;
    let mut ok = true;
    let mut i = 0;
    while i < end {
        let c = spec[i];
        let f = flags(c);
        if f & SPECIAL == 0 {
            out.push(c);
        } else if let dots @ 1.. = dot_len(spec, i) {
            if out.last() == Some(&b'/') {
                match classify_after_dot(spec, i + dots) {
                    None => {
                        out.push(b'.');
                        i += dots - 1;
                    }
                    Some((up, consumed)) => {
                        if up {
                            back_up_to_previous_slash(&mut out);
                        }
                        i += dots + consumed - 1;
                    }
                }
            } else {
                out.push(b'.');
                i += dots - 1;
            }
        } else if c == b'\\' {
            out.push(b'/');
        } else if c == b'%' {
            match decode_escape(spec, i) {
                Some(value) => {
                    i += 2;
                    let vf = flags(value);
                    if vf & UNESCAPE != 0 {
                        out.push(value);
                        if last_invalid_percent.is_some_and(|p| p + 3 >= out.len()) {
                            let p = last_invalid_percent.unwrap_or_default();
                            check_for_nested_escapes(spec, i + 1, p, &mut out);
                        }
                    } else {
                        out.extend_from_slice(&spec[i - 2..=i]);
                        if vf == INVALID {
                            ok = false;
                        }
                    }
                }
                None => {
                    last_invalid_percent = Some(out.len());
                    out.push(b'%');
                }
            }
        } else {
            if f == INVALID {
                ok = false;
            }
            push_escaped(&mut out, c);
        }
        i += 1;
    }
    // every byte pushed is ASCII: non-ASCII input is percent-encoded
    ok.then(|| String::from_utf8(out).ok()).flatten()
}

/// After a dot that follows a slash: `None` when it is part of a name, else whether it goes up
/// (`..`) and how many more input bytes it takes (the second dot and a slash).
fn classify_after_dot(spec: &[u8], after: usize) -> Option<(bool, usize)> {
    let is_slash = |at: usize| matches!(spec.get(at), Some(b'/' | b'\\'));
    if after == spec.len() {
        return Some((false, 0));
    }
    if is_slash(after) {
        return Some((false, 1));
    }
    let second = dot_len(spec, after);
    if second > 0 {
        let next = after + second;
        if next == spec.len() {
            return Some((true, second));
        }
        if is_slash(next) {
            return Some((true, second + 1));
        }
    }
    None
}

/// Drops the last segment of the output, which ends with `/` (never above the first `/`).
fn back_up_to_previous_slash(out: &mut Vec<u8>) {
    let last = out.len() - 1;
    if last == 0 {
        return;
    }
    let mut i = last - 1;
    while out[i] != b'/' && i > 0 {
        i -= 1;
    }
    out.truncate(i + 1);
}

/// Chromium's `CheckForNestedEscapes`: after decoding a byte just after a `%` that did not start
/// an escape, makes sure the output does not now hold a valid escape there (`%%30%30` must not
/// become `%00`), by writing that `%` as `%25`.
fn check_for_nested_escapes(spec: &[u8], next: usize, percent: usize, out: &mut Vec<u8>) {
    let length = out.len();
    let last = out[length - 1];
    let append_next = percent + 2 == length;
    if append_next {
        match spec.get(next) {
            Some(&c) if c < 0x80 => out.push(c),
            _ => return,
        }
    }
    if decode_escape(out, percent).is_some() {
        if !append_next {
            out.push(out[percent + 1]);
        }
        out[percent + 1] = b'2';
        out[percent + 2] = b'5';
        out.push(last);
    } else if append_next {
        out.truncate(length);
    }
}

#[cfg(test)]
mod tests;
