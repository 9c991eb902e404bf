//! A linear scan for nesting before any parser runs: YAML and JSON parsers take time that grows
//! faster than the input with deep flow nesting (a 200 KB file of `[` took 33 s, holding up the
//! whole load), so a file nested deeper than [`MAX_DEPTH`] is rejected unparsed.

/// The deepest nesting of `[`/`{` (and of `- ` items opened on one line) a config file may have.
/// Gloo resources need about 10.
pub const MAX_DEPTH: usize = 64;

/// The line and column (1-based) where `text` first nests deeper than [`MAX_DEPTH`], if it does.
/// Brackets inside quoted strings and comments do not count.
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let (mut line, mut column) = (1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut comment = false;
    // `- ` items opened on the current line before any other content
    let mut dashes = 0usize;
    let mut line_start = true;
    let mut previous = '\n';
    for c in text.chars() {
        column += 1;
        if c == '\n' {
            line += 1;
            column = 0;
            comment = false;
            dashes = 0;
            line_start = true;
            // a quoted string may span lines in YAML; keep the state
            previous = c;
            continue;
        }
        if comment {
            continue;
        }
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            previous = c;
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '#' if previous.is_whitespace() || line_start => comment = true,
            '[' | '{' => {
                depth += 1;
                if depth + dashes > MAX_DEPTH {
                    return Some((line, column));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            '-' if line_start => {
                dashes += 1;
                if depth + dashes > MAX_DEPTH {
                    return Some((line, column));
                }
            }
            c if c.is_whitespace() => {}
            _ => line_start = false,
        }
        if !c.is_whitespace() && c != '-' {
            line_start = false;
        }
        previous = c;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_level_too_deep_in_linear_time() {
        let flow = "[".repeat(100_000);
        assert_eq!(too_deep(&flow), Some((1, MAX_DEPTH + 1)));
        let json = format!("{{\"a\":\n{}1{}}}", "[".repeat(70), "]".repeat(70));
        assert_eq!(too_deep(&json), Some((2, MAX_DEPTH)));
        let dashes = format!("x:\n  {}y\n", "- ".repeat(80));
        assert!(too_deep(&dashes).is_some());
        // brackets in strings and comments do not count, and closing ones bring the depth down
        let fine = format!(
            "a: '{}'\nb: \"{}\"\n# {}\nc: {}{}\n",
            "[".repeat(100),
            "{".repeat(100),
            "[".repeat(100),
            "[".repeat(60),
            "]".repeat(60)
        );
        assert_eq!(too_deep(&fine), None);
        assert_eq!(too_deep(&format!("{}\n", "[]".repeat(10_000))), None);
        assert_eq!(too_deep("a: [1, {b: [2]}]\n- - - x\n"), None);
    }
}
