//! The interpreter: entering nodes, matching answers, resuming after HTTP and transfers.

use serde_json::Value;

use super::{
    capture::normalise,
    matching::Answer,
    model::{Action, Message, Node, Retry},
    render::{interpolate, interpolate_value, render, walk},
    DialogueState, Flow, HttpRequest, HttpResponse, Step, TurnContext,
};
use crate::messages::Content;

/// Nodes entered in one turn before the interpreter gives up. Validation already rejects
/// `goto` loops that never wait, so only a chain longer than this can hit it; the dialogue
/// then ends (`Step::End`, `state.node = None`) rather than spinning.
pub(super) const MAX_STEPS: usize = 100;

/// Enters `id` and runs on until something has to wait.
pub(super) fn enter(
    flow: &Flow,
    id: &str,
    state: &mut DialogueState,
    ctx: &TurnContext<'_>,
    out: &mut Vec<Content>,
) -> Step {
    let mut next = id.to_owned();
    for _ in 0..MAX_STEPS {
        let Some((no, node)) = flow.node(&next) else {
            break;
        };
        if let Some(set) = &node.set {
            if let Some(label) = &set.intention {
                state.intention = Some(interpolate(label, state, ctx));
            }
            for (k, v) in &set.event_labels {
                let v = interpolate_value(v, state, ctx);
                state.event_labels.insert(k.clone(), v);
            }
            for (k, v) in &set.variables {
                let v = interpolate_value(v, state, ctx);
                state.variables.insert(k.clone(), v);
            }
        }
        say(&node.say, 1, no, state, ctx, out);
        state.retries = 0;
        state.node = Some(node.id.clone());
        match &node.action {
            Action::Goto(to) => next.clone_from(to),
            Action::Ask(_) | Action::Capture(_) => return Step::AwaitUser,
            Action::Http(_) | Action::Transfer(_) => return pending(flow, state, ctx),
            Action::End => break,
        }
    }
    state.node = None;
    Step::End
}

/// One user message; see [`Flow::answer`].
pub(super) fn answer(
    flow: &Flow,
    state: &mut DialogueState,
    ctx: &TurnContext<'_>,
    user: &Content,
    out: &mut Vec<Content>,
) -> Step {
    state.talk_round += 1;
    let answer = Answer::of(user);
    if let Some(route) = flow.anywhere.iter().find(|r| r.test.passes(&answer, None)) {
        return enter(flow, &route.goto, state, ctx, out);
    }
    let Some((no, node)) = state.node.as_deref().and_then(|id| flow.node(id)) else {
        return enter(flow, &flow.start, state, ctx, out);
    };
    match &node.action {
        Action::Ask(ask) => {
            let picked = answer.option_of(ctx.flow_id, no, node);
            let Some(route) = ask.routes.iter().find(|r| r.test.passes(&answer, picked)) else {
                return retry(&ask.fallback, true, (no, node), flow, state, ctx, out);
            };
            if let Some(slot) = &ask.slot {
                let value = picked.unwrap_or(&answer.text).to_owned();
                state.slots.insert(slot.clone(), Value::String(value));
            }
            enter(flow, &route.goto, state, ctx, out)
        }
        Action::Capture(c) => {
            match normalise(c.kind, &answer.text, c.pattern.as_ref(), c.min, c.max) {
                Some(value) => {
                    state.slots.insert(c.slot.clone(), value);
                    enter(flow, &c.goto, state, ctx, out)
                }
                None => retry(&c.retry, false, (no, node), flow, state, ctx, out),
            }
        }
        // Not waiting for the user: an HTTP call or a transfer is pending.
        _ => pending(flow, state, ctx),
    }
}

/// A wrong answer: after `retries` re-asks go to `goto`; otherwise say the retry messages
/// and, for menus (`repeat`) or when there are none, the node's own prompt again.
fn retry(
    retry: &Retry,
    repeat: bool,
    (no, node): (usize, &Node),
    flow: &Flow,
    state: &mut DialogueState,
    ctx: &TurnContext<'_>,
    out: &mut Vec<Content>,
) -> Step {
    state.retries += 1;
    if let Some(to) = retry
        .goto
        .as_deref()
        .filter(|_| state.retries > retry.retries)
    {
        return enter(flow, to, state, ctx, out);
    }
    say(&retry.say, node.say.len() + 1, no, state, ctx, out);
    if repeat || retry.say.is_empty() {
        say(&node.say, 1, no, state, ctx, out);
    }
    Step::AwaitUser
}

/// The result of the pending HTTP call; see [`Flow::http_result`].
pub(super) fn http_result(
    flow: &Flow,
    state: &mut DialogueState,
    ctx: &TurnContext<'_>,
    response: Option<&HttpResponse>,
    out: &mut Vec<Content>,
) -> Step {
    let Some(Action::Http(http)) = current(flow, state).map(|n| &n.action) else {
        return pending(flow, state, ctx);
    };
    let Some(response) = response.filter(|r| (200..300).contains(&r.status)) else {
        let to = http.on_error.as_deref().unwrap_or(&http.goto);
        return enter(flow, to, state, ctx, out);
    };
    if let Some(var) = &http.save_as {
        state.variables.insert(var.clone(), response.body.clone());
    }
    let to = http
        .routes
        .iter()
        .find(|r| walk(&response.body, &r.path) == Some(&r.equals))
        .map_or(&http.goto, |r| &r.goto);
    enter(flow, to, state, ctx, out)
}

/// The transfer was refused; see [`Flow::transfer_refused`].
pub(super) fn transfer_refused(
    flow: &Flow,
    state: &mut DialogueState,
    ctx: &TurnContext<'_>,
    out: &mut Vec<Content>,
) -> Step {
    let Some(Action::Transfer(transfer)) = current(flow, state).map(|n| &n.action) else {
        return pending(flow, state, ctx);
    };
    if let Some(to) = &transfer.on_refused {
        return enter(flow, to, state, ctx, out);
    }
    state.node = None;
    Step::End
}

/// What the state is waiting for, asked again: a call in the wrong state (an answer while
/// an HTTP call is pending, a result nobody asked for) repeats the pending step instead of
/// moving the dialogue.
fn pending(flow: &Flow, state: &mut DialogueState, ctx: &TurnContext<'_>) -> Step {
    let Some(node) = current(flow, state) else {
        return Step::End;
    };
    match &node.action {
        Action::Http(h) => Step::Http(HttpRequest {
            method: h.method.clone(),
            url: interpolate(&h.url, state, ctx),
            headers: h
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), interpolate(v, state, ctx)))
                .collect(),
            body: h.body.as_ref().map(|b| interpolate_value(b, state, ctx)),
            timeout_secs: h.timeout_secs,
        }),
        Action::Transfer(t) => {
            if let Some(label) = &t.output_label {
                state.intention = Some(interpolate(label, state, ctx));
            }
            Step::Transfer {
                output_label: state.intention.clone().unwrap_or_default(),
            }
        }
        Action::Ask(_) | Action::Capture(_) => Step::AwaitUser,
        Action::Goto(_) | Action::End => Step::End,
    }
}

fn current<'f>(flow: &'f Flow, state: &DialogueState) -> Option<&'f Node> {
    flow.node(state.node.as_deref()?).map(|(_, n)| n)
}

/// Renders `msgs`, numbered from `first`, as node `no` says them.
fn say(
    msgs: &[Message],
    first: usize,
    no: usize,
    state: &DialogueState,
    ctx: &TurnContext<'_>,
    out: &mut Vec<Content>,
) {
    for (i, m) in msgs.iter().enumerate() {
        out.push(render(m, no, first + i, state, ctx));
    }
}

impl Flow {
    /// The node with `id` and its 1-based number.
    fn node(&self, id: &str) -> Option<(usize, &Node)> {
        let i = *self.index.get(id)?;
        Some((i + 1, self.nodes.get(i)?))
    }
}
