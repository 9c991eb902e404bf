//! What `extauth check` and `/explain` report about one request, as plain data: serialised as
//! the JSON of `--output json` and `/explain` (keys documented in docs/reference.md), and
//! rendered for people by [`super::text`].

use serde::Serialize;

/// The whole trace of one request, section by section, in the order it is decided.
#[derive(Debug, Default, Serialize)]
pub struct Trace {
    /// The request as the check would carry it.
    pub request: RequestInfo,
    /// The configuration the trace was computed from.
    pub config: ConfigInfo,
    /// How the request was routed.
    pub routing: Routing,
    /// The AuthConfig the route asks for, if any.
    pub auth_config: Option<AuthConfigInfo>,
    /// Each step of the AuthConfig: what it sends and, with `--call`, its answer.
    pub steps: Vec<StepInfo>,
    /// The `booleanExpr` and, with `--call`, its evaluation.
    pub boolean_expr: Option<ExprInfo>,
    /// Whether the auth service was called (`--call`).
    pub called: bool,
    /// What extauth answers Envoy; `None` when that takes a call that was not made.
    pub answer: Option<AnswerInfo>,
    /// What the trace concludes, in one sentence.
    pub verdict: String,
    /// `extauth check`'s exit status: 0 allowed (or protected and not called), 1 denied (401,
    /// 403), 2 undecided (503).
    pub exit_code: u8,
}

/// One header, its value possibly `<redacted>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// The name, lower case.
    pub name: String,
    /// The value, or `<redacted>`.
    pub value: String,
}

/// The request explained.
#[derive(Debug, Default, Serialize)]
pub struct RequestInfo {
    /// The method.
    pub method: String,
    /// The URL as given (its credentials, if any, redacted).
    pub url: String,
    /// The Host the check carries.
    pub host: String,
    /// The path and query the check carries.
    pub path: String,
    /// `--path-prefix`, when set.
    pub path_prefix: Option<String>,
    /// The headers given, in order.
    pub headers: Vec<Header>,
    /// Length of the body, in bytes.
    pub body_bytes: usize,
}

/// The configuration in force.
#[derive(Debug, Default, Serialize)]
pub struct ConfigInfo {
    /// The config directory (`extauth check` only).
    pub dir: Option<String>,
    /// Whether a complete load is in force (false: extauth answers 503).
    pub loaded: bool,
    /// AuthConfigs in force.
    pub auth_configs: usize,
    /// VirtualServices in force.
    pub virtual_services: usize,
    /// Upstreams in force.
    pub upstreams: usize,
    /// Every config error, as `extauth validate` prints it; the trace goes on with the valid
    /// resources, as the server does.
    pub errors: Vec<String>,
}

/// The routing decision.
#[derive(Debug, Default, Serialize)]
pub struct Routing {
    /// The path `--path-prefix` left (`None` when the path lacks the prefix).
    pub path: Option<String>,
    /// Each reading of the request that was routed (one unless the Host or the path is not in
    /// normal form; the decisive one last).
    pub readings: Vec<Reading>,
    /// Why the readings disagree, when they do (extauth answers 403).
    pub ambiguity: Option<String>,
    /// The route identity Envoy named (`x-extauth-route`), when extauth trusts it
    /// (`--trust-route-header`) and the check carries it: it, not the Host and path, picks
    /// the route, as in the server.
    pub identity: Option<String>,
    /// `matched`, `no_virtual_host`, `no_route`, `contested`, `ambiguous`, `no_path_prefix`,
    /// `unknown_route` (an identity no route in force has, or whose VirtualService the Host
    /// no longer leads to).
    pub result: String,
    /// The VirtualService whose route matched.
    pub virtual_service: Option<String>,
    /// The route that matched, as `routes[N]`.
    pub route: Option<String>,
    /// Its `name`, when it has one.
    pub route_name: Option<String>,
    /// What the route asks of extauth, inheritance and `disable` applied.
    pub extauth: Option<ExtauthInfo>,
}

/// One reading of the request routed.
#[derive(Debug, Default, Serialize)]
pub struct Reading {
    /// `as sent`, `normalised`, `with the path normalised`, `with the host normalised`.
    pub label: String,
    /// The host looked up (lower case).
    pub host: String,
    /// The path and query matched.
    pub path: String,
    /// The virtual host picked.
    pub virtual_host: VirtualHostInfo,
    /// The routes tried, in order, up to the one that matched.
    pub routes: Vec<RouteInfo>,
}

/// The virtual host lookup.
#[derive(Debug, Default, Serialize)]
pub struct VirtualHostInfo {
    /// Whether a domain matched.
    pub matched: bool,
    /// The domain pattern that matched.
    pub domain: Option<String>,
    /// How: `exact`, `wildcard suffix`, `wildcard prefix`, `catch-all`.
    pub how: Option<String>,
    /// The VirtualService serving it.
    pub virtual_service: Option<String>,
    /// When the domain is contested (or belongs to an invalid VirtualService): who claims it.
    pub contested_by: Vec<String>,
    /// When no domain matched: the closest domains, closest first.
    pub closest: Vec<Domain>,
}

/// A domain pattern and who serves it.
#[derive(Debug, Clone, Serialize)]
pub struct Domain {
    /// The pattern.
    pub domain: String,
    /// `VirtualService ns/name`, or `contested by ...`.
    pub owner: String,
}

/// One route tried.
#[derive(Debug, Default, Serialize)]
pub struct RouteInfo {
    /// `routes[N]`, counted from 0.
    pub route: String,
    /// Its `name`, when it has one.
    pub name: Option<String>,
    /// Whether it matched.
    pub matched: bool,
    /// Its matchers (any one matching selects the route).
    pub matchers: Vec<MatcherInfo>,
}

/// One matcher of a route.
#[derive(Debug, Default, Serialize)]
pub struct MatcherInfo {
    /// `matchers[N]`.
    pub matcher: String,
    /// Its conditions, in evaluation order.
    pub conditions: Vec<String>,
    /// `matched`, `failed` or `not evaluated` (a matcher after the one that matched).
    pub result: String,
    /// The first condition that failed, with its field.
    pub failed: Option<String>,
}

/// What the matched route asks of extauth.
#[derive(Debug, Default, Serialize)]
pub struct ExtauthInfo {
    /// `auth_config`, `disabled` or `unprotected`.
    pub target: String,
    /// `route` (its own `options.extauth`), `virtualHost` (inherited) or `nowhere`.
    pub from: String,
    /// The AuthConfig, for `auth_config`.
    pub auth_config: Option<String>,
    /// In words.
    pub summary: String,
}

/// The AuthConfig applied.
#[derive(Debug, Default, Serialize)]
pub struct AuthConfigInfo {
    /// `namespace/name`.
    pub key: String,
    /// Whether a valid version is in force.
    pub available: bool,
    /// `missing` or `invalid`, when not available.
    pub cause: Option<String>,
    /// SHA-256 of its spec (the content hash that tells versions apart).
    pub hash: Option<String>,
    /// `file: document N`.
    pub source: Option<String>,
}

/// One step of the AuthConfig.
#[derive(Debug, Default, Serialize)]
pub struct StepInfo {
    /// Its index in `configs`.
    pub index: usize,
    /// Its `name`, or `config_N`.
    pub name: String,
    /// The call it makes (for a step after the first, with the state known when it is built:
    /// without `--call`, none).
    pub request: Option<AuthCall>,
    /// Its answer, with `--call`; `None` when not called.
    pub answer: Option<StepAnswer>,
    /// Why it was not called, with `--call` (a short-circuit, an earlier denial or error).
    pub not_called: Option<String>,
}

/// The call to the auth service.
#[derive(Debug, Default, Serialize)]
pub struct AuthCall {
    /// Always `POST`.
    pub method: String,
    /// The url, its credentials redacted.
    pub url: String,
    /// The headers extauth sets, in order.
    pub headers: Vec<Header>,
    /// The headers the HTTP client adds itself.
    pub client_headers: Vec<Header>,
    /// The JSON body, when the step sends one.
    pub body: Option<serde_json::Value>,
    /// The call's budget (`connectionTimeout`), in milliseconds.
    pub timeout_ms: u128,
}

/// A step's answer and how it was read.
#[derive(Debug, Default, Serialize)]
pub struct StepAnswer {
    /// The auth service's status, when it answered.
    pub status: Option<u16>,
    /// Every header of the answer as it arrived, in order (values of redacted headers masked).
    pub received: Vec<Header>,
    /// The answer's headers extauth passes on (the step's response lists), in order.
    pub headers: Vec<Header>,
    /// The state read from the body (`readStateFromResponse`).
    pub state: Option<serde_json::Value>,
    /// How long the call took, in milliseconds.
    pub took_ms: f64,
    /// `allow`, `deny` or `error`.
    pub outcome: String,
    /// Why, for a denial or an error.
    pub cause: Option<String>,
    /// `failureModeAllow` turned this error into an allow.
    pub bypassed: bool,
}

/// The `booleanExpr`.
#[derive(Debug, Default, Serialize)]
pub struct ExprInfo {
    /// As compiled, fully parenthesised.
    pub expr: String,
    /// Its evaluation, node by node, with `--call`.
    pub evaluation: Vec<ExprStep>,
}

/// One node of the evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct ExprStep {
    /// Nesting depth, from 0.
    pub depth: usize,
    /// The node.
    pub node: String,
    /// Its value; `None` when skipped.
    pub value: Option<bool>,
    /// Not evaluated: the left side of its `&&`/`||` decided.
    pub skipped: bool,
}

/// What extauth answers Envoy.
#[derive(Debug, Default, Serialize)]
pub struct AnswerInfo {
    /// The status.
    pub status: u16,
    /// Every header, in order.
    pub headers: Vec<Header>,
    /// Why, as the server's log says it.
    pub reason: String,
}
