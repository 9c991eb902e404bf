//! The per-AuthConfig actor: owns the step clients (awc clients are bound to one thread) and
//! answers [`Check`] messages by running the chain. All logic lives in plain functions.

use std::rc::Rc;
use std::sync::Arc;

use actix::prelude::*;

use super::answer::StepOutcome;
use super::call::StepClient;
use super::chain::{run_chain, Decision, StepCaller};
use super::request::AuthRequest;
use super::shared::StepShared;
use super::CheckRequest;
use crate::metrics::ConfigMetrics;
use crate::policy::AuthPolicy;

/// Checks queued per actor before senders wait.
const MAILBOX_CAPACITY: usize = 16 * 1024;

/// Ask the actor to decide one check.
#[derive(Message)]
#[rtype(result = "Decision")]
pub struct Check(pub Arc<CheckRequest>);

/// The actor for one AuthConfig version.
pub struct PassthroughActor {
    policy: Arc<AuthPolicy>,
    shared: Arc<[StepShared]>,
    metrics: Arc<ConfigMetrics>,
    budget: Vec<usize>,
    clients: Option<Rc<Clients>>,
}

struct Clients {
    policy: Arc<AuthPolicy>,
    /// Per step, what every shard shares (its decision cache).
    shared: Arc<[StepShared]>,
    steps: Vec<StepClient>,
}

impl StepCaller for Clients {
    async fn call(&self, index: usize, request: AuthRequest) -> StepOutcome {
        let (step, client) = (&self.policy.steps[index], &self.steps[index]);
        let Some(cache) = &self.shared[index].cache else {
            return client.call(step, request).await.outcome;
        };
        let key = cache.key(&request.headers, &request.body);
        let call = || async move {
            let called = client.call(step, request).await;
            (called.outcome, called.fresh_for)
        };
        cache.answer(key, step.timeout, call).await
    }
}

impl PassthroughActor {
    /// An actor (shard) for `policy`, sharing `shared` with the other shards of its version,
    /// recording its calls into `metrics`, allowed `budget[i]` connections for step `i`; its
    /// clients are built at its first check, on its own thread.
    pub fn new(
        policy: Arc<AuthPolicy>,
        shared: Arc<[StepShared]>,
        metrics: Arc<ConfigMetrics>,
        budget: Vec<usize>,
    ) -> Self {
        PassthroughActor {
            policy,
            shared,
            metrics,
            budget,
            clients: None,
        }
    }
}

impl Actor for PassthroughActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // checks are bounded by Envoy's own concurrency; a full mailbox would only add latency
        ctx.set_mailbox_capacity(MAILBOX_CAPACITY);
    }
}

impl PassthroughActor {
    /// The step clients, built at the first check: an AuthConfig that a worker never serves
    /// costs no client (thousands of AuthConfigs stay cheap).
    fn clients(&mut self) -> Rc<Clients> {
        let (policy, shared) = (&self.policy, &self.shared);
        let (budget, metrics) = (&self.budget, &self.metrics);
        self.clients
            .get_or_insert_with(|| {
                let steps = policy
                    .steps
                    .iter()
                    .zip(shared.iter())
                    .zip(budget)
                    .map(|((step, shared), conns)| {
                        StepClient::new(step, shared, *conns, metrics.clone())
                    })
                    .collect();
                Rc::new(Clients {
                    policy: policy.clone(),
                    shared: shared.clone(),
                    steps,
                })
            })
            .clone()
    }
}

impl Handler<Check> for PassthroughActor {
    type Result = ResponseFuture<Decision>;

    fn handle(&mut self, Check(check): Check, _: &mut Context<Self>) -> Self::Result {
        let clients = self.clients();
        Box::pin(async move { run_chain(&clients.policy, &*clients, &check).await })
    }
}
