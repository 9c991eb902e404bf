//! The trace for people: one section per stage, labels in a column, and the decisive line of
//! each section marked `=>`.

use std::fmt::Write;

use super::model::{AuthCall, Header, Reading, StepAnswer, StepInfo, Trace};

/// Width of the label column.
const LABEL: usize = 16;

/// Writes lines under labels.
struct Out(String);

impl Out {
    /// `label` in the label column, then `text`.
    fn line(&mut self, label: &str, text: impl AsRef<str>) {
        let _ = writeln!(self.0, "{label:<LABEL$}{}", text.as_ref());
    }

    /// A decisive line: `=> text`.
    fn decisive(&mut self, label: &str, text: impl AsRef<str>) {
        self.line(label, format!("=> {}", text.as_ref()));
    }

    /// Headers, one a line, under an empty label.
    fn headers(&mut self, headers: &[Header], prefix: &str) {
        for h in headers {
            self.line("", format!("{prefix}{}: {}", h.name, h.value));
        }
    }
}

/// The trace as text.
pub fn render(trace: &Trace) -> String {
    let mut out = Out(String::new());
    config(&mut out, trace);
    request(&mut out, trace);
    routing(&mut out, trace);
    if let Some(ac) = &trace.auth_config {
        match (&ac.hash, &ac.source) {
            (Some(hash), Some(source)) => out.line(
                "auth config",
                format!("{}  sha256 {hash}  ({source})", ac.key),
            ),
            _ => out.decisive(
                "auth config",
                format!(
                    "{} is {}: no valid version of it is in force",
                    ac.key,
                    ac.cause.as_deref().unwrap_or("missing")
                ),
            ),
        }
    }
    for step in &trace.steps {
        self::step(&mut out, step);
    }
    if let Some(expr) = &trace.boolean_expr {
        out.line("booleanExpr", &expr.expr);
        for e in &expr.evaluation {
            let indent = "  ".repeat(e.depth);
            let value = match (e.skipped, e.value) {
                (true, _) => "skipped (short-circuit)".to_string(),
                (false, Some(v)) => format!("= {v}"),
                (false, None) => "not finished (a step erred)".to_string(),
            };
            out.line("", format!("{indent}{} {value}", e.node));
        }
    }
    match &trace.answer {
        Some(answer) => {
            out.decisive("answer", format!("{} ({})", answer.status, answer.reason));
            out.headers(&answer.headers, "");
        }
        None => out.decisive("answer", "no call made: run with --call to make the calls"),
    }
    out.line("", &trace.verdict);
    out.0
}

fn config(out: &mut Out, trace: &Trace) {
    let c = &trace.config;
    let place = c.dir.as_deref().unwrap_or("configuration in force");
    let errors = match c.errors.len() {
        0 => "no errors".to_string(),
        n => format!("{n} error(s); the valid resources are used, as the server does"),
    };
    out.line(
        "config",
        format!(
            "{place}: {} AuthConfig(s), {} VirtualService(s), {} Upstream(s), {errors}",
            c.auth_configs, c.virtual_services, c.upstreams
        ),
    );
    for e in &c.errors {
        out.line("", format!("error: {e}"));
    }
    if !c.loaded {
        out.decisive("", "not loaded: extauth cannot decide (503)");
    }
}

fn request(out: &mut Out, trace: &Trace) {
    let r = &trace.request;
    out.line("request", format!("{} {}", r.method, r.url));
    out.headers(&r.headers, "");
    if r.body_bytes > 0 {
        out.line("", format!("body: {} bytes", r.body_bytes));
    }
}

fn routing(out: &mut Out, trace: &Trace) {
    let r = &trace.routing;
    match (&trace.request.path_prefix, &r.path) {
        (Some(prefix), None) => out.decisive(
            "routing",
            format!("the path does not start with --path-prefix {prefix}: no route (403)"),
        ),
        (Some(prefix), Some(path)) => out.line(
            "routing",
            format!("path {path} (--path-prefix {prefix} removed)"),
        ),
        (None, Some(path)) => out.line("routing", format!("path {path}")),
        (None, None) => {}
    }
    if let Some(identity) = &r.identity {
        out.decisive(
            "  identity",
            format!("Envoy named the route {identity} (--trust-route-header)"),
        );
    }
    let several = r.readings.len() > 1;
    for reading in &r.readings {
        self::reading(out, reading, several);
    }
    if let Some(why) = &r.ambiguity {
        out.decisive("  ambiguous", format!("{why} (403)"));
    }
    if let (Some(vs), Some(route)) = (&r.virtual_service, &r.route) {
        let name = r
            .route_name
            .as_ref()
            .map_or(String::new(), |n| format!(" (`{n}`)"));
        out.decisive("  route", format!("{route}{name} of VirtualService {vs}"));
    }
    match (r.result.as_str(), &r.extauth) {
        (_, Some(e)) => out.decisive("  extauth", &e.summary),
        ("no_route", _) => out.decisive("  route", "no route matches (403)"),
        ("no_virtual_host", _) => out.decisive("  route", "no virtual host matches (403)"),
        ("unknown_route", _) => out.decisive(
            "  route",
            "no route in force has this identity, or the Host no longer leads to its \
             VirtualService (403)",
        ),
        _ => {}
    }
}

fn reading(out: &mut Out, reading: &Reading, several: bool) {
    if several {
        out.line(
            "  reading",
            format!(
                "{}: host {}, path {}",
                reading.label, reading.host, reading.path
            ),
        );
    }
    let vh = &reading.virtual_host;
    match (&vh.virtual_service, &vh.domain) {
        (Some(vs), Some(domain)) => out.decisive(
            "  virtual host",
            format!(
                "VirtualService {vs}: domain `{domain}` matches `{}` ({})",
                reading.host,
                vh.how.as_deref().unwrap_or("")
            ),
        ),
        (None, Some(domain)) => out.decisive(
            "  virtual host",
            format!(
                "domain `{domain}` is contested by {}: denied (403)",
                vh.contested_by.join(", ")
            ),
        ),
        _ => {
            out.decisive(
                "  virtual host",
                format!("no domain matches `{}`; the closest:", reading.host),
            );
            for d in &vh.closest {
                out.line("", format!("`{}` ({})", d.domain, d.owner));
            }
        }
    }
    for route in &reading.routes {
        let name = route
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" `{n}`"));
        let verdict = if route.matched { "matched" } else { "no match" };
        out.line(&format!("  {}", route.route), format!("{verdict}{name}"));
        for m in &route.matchers {
            let detail = match &m.failed {
                Some(f) => format!("failed at {f}"),
                None => m.result.clone(),
            };
            out.line(
                "",
                format!("  {} [{}]: {detail}", m.matcher, m.conditions.join(", ")),
            );
        }
    }
}

fn step(out: &mut Out, step: &StepInfo) {
    out.line(&format!("step {}", step.index), format!("`{}`", step.name));
    if let Some(call) = &step.request {
        self::call(out, call);
    }
    if let Some(why) = &step.not_called {
        out.line("  not called", why);
    }
    if let Some(answer) = &step.answer {
        self::answer(out, answer);
    }
}

fn call(out: &mut Out, call: &AuthCall) {
    out.line(
        "  call",
        format!(
            "{} {}  (budget {} ms)",
            call.method, call.url, call.timeout_ms
        ),
    );
    out.headers(&call.headers, "");
    out.headers(&call.client_headers, "(client) ");
    match &call.body {
        Some(body) => out.line("", format!("body: {body}")),
        None => out.line("", "no body"),
    }
}

fn answer(out: &mut Out, answer: &StepAnswer) {
    let status = answer
        .status
        .map_or("no answer".to_string(), |s| s.to_string());
    let cause = answer
        .cause
        .as_ref()
        .map_or(String::new(), |c| format!(": {c}"));
    let bypassed = if answer.bypassed {
        " (failureModeAllow: counts as an allow)"
    } else {
        ""
    };
    out.decisive(
        "  answer",
        format!(
            "{status}, {}{cause}{bypassed}, in {} ms",
            answer.outcome, answer.took_ms
        ),
    );
    out.headers(&answer.received, "");
    if !answer.headers.is_empty() {
        out.line("", "passed on:");
        out.headers(&answer.headers, "  ");
    }
    if let Some(state) = &answer.state {
        out.line("", format!("state: {state}"));
    }
}
