//! `booleanExpr`: combines an AuthConfig's steps by name with `&&`, `||`, `!` and parentheses.
//!
//! Precedence is the usual one (`!` over `&&` over `||`); evaluation is left to right with
//! short-circuit, so a step that cannot change the result is never called.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A parsed expression whose leaves are step indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    /// The outcome of one step.
    Step(usize),
    /// Negation.
    Not(Box<Expr>),
    /// Both sides must hold; the right side is skipped when the left fails.
    And(Box<Expr>, Box<Expr>),
    /// Either side; the right side is skipped when the left holds.
    Or(Box<Expr>, Box<Expr>),
}

/// Why an expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// A name that is not one of the AuthConfig's steps.
    #[error("booleanExpr names `{0}`, which is not one of this AuthConfig's configs")]
    UnknownName(String),
    /// Anything the grammar does not allow.
    #[error("booleanExpr is malformed at character {pos}: {what}")]
    Syntax {
        /// Zero-based character offset.
        pos: usize,
        /// What was expected.
        what: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/')
}

fn tokenize(text: &str) -> Result<Vec<(usize, Token)>, ExprError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let token = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => Token::Open,
            ')' => Token::Close,
            '!' => Token::Not,
            '&' | '|' if chars.get(i + 1) == Some(&c) => {
                i += 1;
                if c == '&' {
                    Token::And
                } else {
                    Token::Or
                }
            }
            c if is_name_char(c) => {
                while i + 1 < chars.len() && is_name_char(chars[i + 1]) {
                    i += 1;
                }
                Token::Name(chars[start..=i].iter().collect())
            }
            other => {
                return Err(ExprError::Syntax {
                    pos: i,
                    what: format!("unexpected `{other}`"),
                })
            }
        };
        tokens.push((start, token));
        i += 1;
    }
    Ok(tokens)
}

struct Parser<'a, F> {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    end: usize,
    resolve: &'a F,
}

impl<F: Fn(&str) -> Option<usize>> Parser<'_, F> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos).map(|(_, t)| t)
    }

    fn offset(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |(p, _)| *p)
    }

    fn syntax<T>(&self, what: &str) -> Result<T, ExprError> {
        Err(ExprError::Syntax {
            pos: self.offset(),
            what: what.to_string(),
        })
    }

    fn or(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        match self.peek().cloned() {
            Some(Token::Not) => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Token::Open) => {
                self.pos += 1;
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return self.syntax("expected `)`");
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(Token::Name(name)) => {
                self.pos += 1;
                (self.resolve)(&name)
                    .map(Expr::Step)
                    .ok_or(ExprError::UnknownName(name))
            }
            _ => self.syntax("expected a config name, `!` or `(`"),
        }
    }
}

impl Expr {
    /// Parses `text`, resolving each name to a step index with `resolve`.
    pub fn parse(text: &str, resolve: impl Fn(&str) -> Option<usize>) -> Result<Expr, ExprError> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            pos: 0,
            end: text.chars().count(),
            resolve: &resolve,
        };
        let expr = parser.or()?;
        if parser.pos != parser.tokens.len() {
            return parser.syntax("expected `&&`, `||` or the end");
        }
        Ok(expr)
    }

    /// Evaluates left to right with short-circuit; `step` is awaited only for needed leaves,
    /// and an `Err` from it stops the evaluation at once.
    pub fn eval<'a, E, S, Fut>(
        &'a self,
        step: &'a S,
    ) -> Pin<Box<dyn Future<Output = Result<bool, E>> + 'a>>
    where
        S: Fn(usize) -> Fut,
        Fut: Future<Output = Result<bool, E>> + 'a,
    {
        self.eval_traced(step, &NoTrace)
    }

    /// [`Expr::eval`], telling `trace` each node as it is entered and left, and each right
    /// side that a short-circuit skips.
    pub fn eval_traced<'a, E, S, Fut, T>(
        &'a self,
        step: &'a S,
        trace: &'a T,
    ) -> Pin<Box<dyn Future<Output = Result<bool, E>> + 'a>>
    where
        S: Fn(usize) -> Fut,
        Fut: Future<Output = Result<bool, E>> + 'a,
        T: ExprTrace,
    {
        Box::pin(async move {
            trace.enter(self);
            let value = match self {
                Expr::Step(i) => step(*i).await?,
                Expr::Not(inner) => !inner.eval_traced(step, trace).await?,
                Expr::And(l, r) => {
                    if l.eval_traced(step, trace).await? {
                        r.eval_traced(step, trace).await?
                    } else {
                        trace.skipped(r);
                        false
                    }
                }
                Expr::Or(l, r) => {
                    if l.eval_traced(step, trace).await? {
                        trace.skipped(r);
                        true
                    } else {
                        r.eval_traced(step, trace).await?
                    }
                }
            };
            trace.leave(self, value);
            Ok(value)
        })
    }

    /// Writes the expression with `names` for the steps, fully parenthesised.
    pub fn display<'a>(&'a self, names: &'a [String]) -> impl fmt::Display + 'a {
        struct Show<'a>(&'a Expr, &'a [String]);
        impl fmt::Display for Show<'_> {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                match self.0 {
                    Expr::Step(i) => f.write_str(&self.1[*i]),
                    Expr::Not(e) => write!(f, "!{}", Show(e, self.1)),
                    Expr::And(l, r) => write!(f, "({} && {})", Show(l, self.1), Show(r, self.1)),
                    Expr::Or(l, r) => write!(f, "({} || {})", Show(l, self.1), Show(r, self.1)),
                }
            }
        }
        Show(self, names)
    }
}

/// Receives the steps of an evaluation ([`Expr::eval_traced`]); every method does nothing by
/// default.
pub trait ExprTrace {
    /// `node` is about to be evaluated.
    #[inline]
    fn enter(&self, node: &Expr) {
        let _ = node;
    }
    /// `node` evaluated to `value`.
    #[inline]
    fn leave(&self, node: &Expr, value: bool) {
        let _ = (node, value);
    }
    /// `node`, the right side of an `&&` or `||`, was not evaluated: the left side decided.
    #[inline]
    fn skipped(&self, node: &Expr) {
        let _ = node;
    }
}

/// The tracer of the server: records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTrace;

impl ExprTrace for NoTrace {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn names() -> Vec<String> {
        ["a", "b", "c", "config_3"].map(String::from).to_vec()
    }

    fn parse(text: &str) -> Result<Expr, ExprError> {
        let n = names();
        Expr::parse(text, |s| n.iter().position(|x| x == s))
    }

    fn run(text: &str, values: [bool; 4]) -> (bool, Vec<usize>) {
        let expr = parse(text).unwrap();
        let called = RefCell::new(Vec::new());
        let step = |i: usize| {
            called.borrow_mut().push(i);
            async move { Ok::<_, ()>(values[i]) }
        };
        let result = futures_util::FutureExt::now_or_never(expr.eval(&step)).unwrap();
        (result.unwrap(), called.into_inner())
    }

    #[test]
    fn precedence_and_round_trip() {
        let e = parse("a || b && !c").unwrap();
        let n = names();
        assert_eq!(e.display(&n).to_string(), "(a || (b && !c))");
        let again = parse(&e.display(&n).to_string()).unwrap();
        assert_eq!(e, again);
        assert_eq!(
            parse("(a||b)&&config_3").unwrap().display(&n).to_string(),
            "((a || b) && config_3)"
        );
    }

    #[test]
    fn short_circuit_left_to_right() {
        assert_eq!(run("a || b", [true, false, false, false]), (true, vec![0]));
        assert_eq!(
            run("a || b", [false, true, false, false]),
            (true, vec![0, 1])
        );
        assert_eq!(run("a && b", [false, true, false, false]), (false, vec![0]));
        assert_eq!(
            run("a && !b", [true, false, false, false]),
            (true, vec![0, 1])
        );
        assert_eq!(
            run("!(a || b) || c", [false, true, true, false]),
            (true, vec![0, 1, 2])
        );
    }

    #[test]
    fn errors() {
        assert_eq!(parse("a && zz"), Err(ExprError::UnknownName("zz".into())));
        for bad in ["", "a &&", "(a", "a b", "a & b", "a || || b", ")", "a $ b"] {
            assert!(matches!(parse(bad), Err(ExprError::Syntax { .. })), "{bad}");
        }
    }

    /// Every node entered, left and skipped, in order.
    #[derive(Default)]
    struct Events(RefCell<Vec<String>>);

    impl ExprTrace for Events {
        fn enter(&self, node: &Expr) {
            self.0
                .borrow_mut()
                .push(format!("enter {}", node.display(&names())));
        }
        fn leave(&self, node: &Expr, value: bool) {
            let line = format!("leave {} = {value}", node.display(&names()));
            self.0.borrow_mut().push(line);
        }
        fn skipped(&self, node: &Expr) {
            self.0
                .borrow_mut()
                .push(format!("skip {}", node.display(&names())));
        }
    }

    #[test]
    fn a_traced_evaluation_shows_the_short_circuits_and_agrees() {
        let expr = parse("a || b && !c").unwrap();
        let values = [false, false, true, false];
        let step = |i: usize| async move { Ok::<_, ()>(values[i]) };
        let events = Events::default();
        let traced = futures_util::FutureExt::now_or_never(expr.eval_traced(&step, &events));
        let plain = futures_util::FutureExt::now_or_never(expr.eval(&step));
        assert_eq!(traced, plain);
        assert_eq!(
            events.0.into_inner(),
            [
                "enter (a || (b && !c))",
                "enter a",
                "leave a = false",
                "enter (b && !c)",
                "enter b",
                "leave b = false",
                "skip !c",
                "leave (b && !c) = false",
                "leave (a || (b && !c)) = false",
            ]
        );
    }
}
