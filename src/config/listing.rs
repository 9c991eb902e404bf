//! Lists of names in config errors and log lines, cut short: a directory may hold thousands of
//! copies of one mistake (a template that forgot to vary a name), and a message per copy naming
//! every other copy grows with the square of their number.

use std::fmt::{Display, Write};

/// How many names a list shows before it counts the rest.
pub const SHOWN: usize = 20;

/// The first [`SHOWN`] of `items` joined by `, `, then ` and N more`, where `total` is how many
/// items there are in all; only the ones shown are taken from `items` and formatted.
pub fn abbreviated<T: Display>(items: impl IntoIterator<Item = T>, total: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for item in items.into_iter().take(SHOWN) {
        if shown > 0 {
            out.push_str(", ");
        }
        // writing to a String cannot fail
        let _ = write!(out, "{item}");
        shown += 1;
    }
    if total > shown {
        let _ = write!(out, " and {} more", total - shown);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_list_is_whole() {
        assert_eq!(abbreviated(["a", "b"], 2), "a, b");
        assert_eq!(abbreviated(Vec::<&str>::new(), 0), "");
    }

    #[test]
    fn a_long_list_shows_the_first_and_counts_the_rest() {
        let shown = abbreviated((0..).map(|i| format!("n{i}")), 10_000);
        assert!(shown.starts_with("n0, n1, "), "{shown}");
        assert!(shown.ends_with("n19 and 9980 more"), "{shown}");
        assert_eq!(shown.matches(", ").count(), SHOWN - 1);
    }
}
