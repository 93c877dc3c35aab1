//! From source text to a [`Flow`]: deserialize (YAML, or JSON when it starts with `{`),
//! then check what serde cannot — references, limits, regexes, loops — collecting every
//! problem with its line instead of stopping at the first.

use std::collections::{HashMap, HashSet};

use regex::Regex;

use super::{
    def::{CaptureDef, FlowDef, HttpDef, MessageDef, NodeDef, RouteDef, SlotKind},
    lines::Lines,
    message_rules::{check, option_titles, same},
    model::{
        Action, Ask, Capture, Http, HttpRoute, MediaKind, Message, Node, Retry, Route, Set, Test,
        Transfer,
    },
    Flow, FlowError, FlowErrors,
};

/// Re-asks before a fallback's `goto` when the definition does not say.
const DEFAULT_RETRIES: u32 = 2;
const DEFAULT_TIMEOUT_SECS: u64 = 10;
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

pub(super) fn parse(source: &str) -> Result<Flow, FlowErrors> {
    let def: FlowDef = deserialize(source)?;
    let ids: Vec<&str> = def.nodes.iter().map(|(id, _)| id.as_str()).collect();
    let mut c = Compiler {
        lines: Lines::new(source, &ids),
        ids: ids.iter().copied().collect(),
        errors: Vec::new(),
    };
    let flow = c.flow(&def);
    c.goto_cycles(&def);
    if c.errors.is_empty() {
        Ok(flow)
    } else {
        c.errors.sort_by_key(|e| e.line);
        Err(FlowErrors(c.errors))
    }
}

/// Reads YAML, or JSON when the text starts with `{` (JSON is YAML, but YAML rejects the
/// tab indentation JSON allows, and serde_json's messages are clearer).
pub(crate) fn deserialize<T: serde::de::DeserializeOwned>(source: &str) -> Result<T, FlowErrors> {
    let one = |line: usize, message: String| FlowErrors(vec![FlowError { line, message }]);
    if source.trim_start().starts_with('{') {
        return serde_json::from_str(source).map_err(|e| {
            let text = e.to_string();
            let message = text.rsplit_once(" at line ").map_or(&*text, |(m, _)| m);
            one(e.line().max(1), message.to_owned())
        });
    }
    serde_norway::from_str(source).map_err(|e| {
        let text = e.to_string();
        let message = text.rsplit_once(" at line ").map_or(&*text, |(m, _)| m);
        one(e.location().map_or(1, |l| l.line()), message.to_owned())
    })
}

struct Compiler<'a> {
    lines: Lines<'a>,
    ids: HashSet<&'a str>,
    errors: Vec<FlowError>,
}

impl Compiler<'_> {
    fn error(&mut self, line: usize, message: String) {
        self.errors.push(FlowError { line, message });
    }

    fn flow(&mut self, def: &FlowDef) -> Flow {
        let name = def.name.clone().unwrap_or_default();
        if name.trim().is_empty() {
            self.error(1, "missing `name`".into());
        }
        let start = def.start.clone().unwrap_or_default();
        if def.start.is_none() {
            self.error(1, "missing `start` (the id of the first node)".into());
        } else if !self.ids.contains(start.as_str()) {
            let line = self.lines.key("start");
            self.error(line, format!("`start` names unknown node `{start}`"));
        }
        if def.nodes.is_empty() {
            let line = self.lines.key("nodes");
            self.error(line, "the flow has no `nodes`".into());
        }
        for option in def.anywhere.iter().filter_map(|r| r.option.as_deref()) {
            let line = self.lines.value_in(None, option);
            self.error(
                line,
                format!("`anywhere` cannot match option `{option}`: use `keywords` or `regex`"),
            );
        }
        let anywhere = def
            .anywhere
            .iter()
            .filter(|r| r.option.is_none())
            .filter_map(|r| self.route(None, r, &[]))
            .collect();
        let nodes = def
            .nodes
            .iter()
            .enumerate()
            .map(|(i, (id, node))| self.node(i, id, node))
            .collect();
        Flow {
            name,
            description: def.description.clone(),
            index: def
                .nodes
                .iter()
                .enumerate()
                .map(|(i, (id, _))| (id.clone(), i))
                .collect::<HashMap<_, _>>(),
            start,
            nodes,
            anywhere,
        }
    }

    fn node(&mut self, i: usize, id: &str, def: &NodeDef) -> Node {
        let say = self.messages(i, &def.say);
        let set = def.set.as_ref().map(|s| Set {
            intention: s.intention.clone(),
            event_labels: s.event_labels.clone(),
            variables: s.variables.clone(),
        });
        let given: Vec<&str> = [
            ("goto", def.goto.is_some()),
            ("ask", def.ask.is_some()),
            ("capture", def.capture.is_some()),
            ("http", def.http.is_some()),
            ("transfer", def.transfer.is_some()),
            ("end", def.end.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, present)| present.then_some(k))
        .collect();
        if given.is_empty() {
            let line = self.lines.node(i);
            self.error(
                line,
                format!(
                    "node `{id}` has no action (one of goto, ask, capture, http, transfer, end)"
                ),
            );
        } else if given.len() > 1 {
            let line = self.lines.key_in(Some(i), given[1]);
            self.error(
                line,
                format!(
                    "node `{id}` has more than one action ({})",
                    given.join(", ")
                ),
            );
        }
        let action = if let Some(target) = &def.goto {
            self.target(i, id, target);
            Action::Goto(target.clone())
        } else if let Some(ask) = &def.ask {
            let options = option_titles(&say);
            let routes = ask
                .routes
                .iter()
                .filter_map(|r| self.route(Some((i, id)), r, &options))
                .collect::<Vec<_>>();
            if routes.is_empty() && ask.routes.is_empty() {
                let line = self.lines.key_in(Some(i), "ask");
                self.error(line, format!("node `{id}` asks without `routes`"));
            }
            let fallback = match &ask.fallback {
                Some(f) => {
                    if let Some(g) = &f.goto {
                        self.target(i, id, g);
                    }
                    Retry {
                        say: self.messages(i, &f.say),
                        retries: f.retries.unwrap_or(DEFAULT_RETRIES),
                        goto: f.goto.clone(),
                    }
                }
                None => Retry {
                    say: Vec::new(),
                    retries: 0,
                    goto: None,
                },
            };
            Action::Ask(Ask {
                slot: ask.slot.clone(),
                routes,
                fallback,
            })
        } else if let Some(capture) = &def.capture {
            Action::Capture(self.capture(i, id, capture))
        } else if let Some(http) = &def.http {
            Action::Http(self.http(i, id, http))
        } else if let Some(transfer) = &def.transfer {
            let on_refused = transfer.on_refused.clone().filter(|t| t != "end");
            if let Some(t) = &on_refused {
                self.target(i, id, t);
            }
            Action::Transfer(Transfer {
                output_label: transfer.output_label.clone(),
                on_refused,
            })
        } else {
            Action::End
        };
        Node {
            id: id.to_owned(),
            say,
            set,
            action,
        }
    }

    /// Checks that `target` names a node.
    fn target(&mut self, i: usize, id: &str, target: &str) {
        if !self.ids.contains(target) {
            let line = self.lines.value_in(Some(i), target);
            self.error(line, format!("node `{id}` goes to unknown node `{target}`"));
        }
    }

    /// A route of node `at` (`None`: of `anywhere`).
    fn route(
        &mut self,
        at: Option<(usize, &str)>,
        def: &RouteDef,
        options: &[&str],
    ) -> Option<Route> {
        let node = at.map(|(i, _)| i);
        let owner = at.map_or_else(|| "`anywhere`".to_owned(), |(_, id)| format!("node `{id}`"));
        if !self.ids.contains(def.goto.as_str()) {
            let line = self.lines.value_in(node, &def.goto);
            self.error(line, format!("{owner} goes to unknown node `{}`", def.goto));
        }
        let count = [
            def.option.is_some(),
            def.keywords.is_some(),
            def.regex.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if count != 1 {
            let line = self.lines.value_in(node, &def.goto);
            self.error(
                line,
                format!("a route of {owner} needs exactly one of `option`, `keywords`, `regex`"),
            );
            return None;
        }
        let test = if let Some(option) = &def.option {
            if !options.is_empty() && !options.iter().any(|o| same(o, option)) {
                let line = self.lines.value_in(node, option);
                self.error(line, format!("{owner} routes option `{option}`, which none of its buttons or lists offers"));
            }
            Test::Option(option.clone())
        } else if let Some(words) = &def.keywords {
            if words.is_empty() || words.iter().any(|w| w.trim().is_empty()) {
                let line = self.lines.key_in(node, "keywords");
                self.error(
                    line,
                    format!("{owner} has an empty keyword list or keyword"),
                );
            }
            Test::Keywords(words.iter().map(|w| w.trim().to_lowercase()).collect())
        } else {
            Test::Regex(self.regex(node, &owner, def.regex.as_deref().unwrap_or_default())?)
        };
        Some(Route {
            test,
            goto: def.goto.clone(),
        })
    }

    fn regex(&mut self, node: Option<usize>, owner: &str, pattern: &str) -> Option<Regex> {
        match Regex::new(pattern) {
            Ok(re) => Some(re),
            Err(e) => {
                let line = self.lines.value_in(node, pattern);
                let reason = e.to_string().lines().last().unwrap_or_default().to_owned();
                self.error(
                    line,
                    format!("{owner} has a bad regex `{pattern}`: {reason}"),
                );
                None
            }
        }
    }

    fn capture(&mut self, i: usize, id: &str, def: &CaptureDef) -> Capture {
        let owner = format!("node `{id}`");
        self.target(i, id, &def.goto);
        if let Some(t) = &def.on_fail {
            self.target(i, id, t);
        }
        if def.slot.trim().is_empty() {
            let line = self.lines.key_in(Some(i), "slot");
            self.error(line, format!("{owner} captures into an empty slot name"));
        }
        let pattern = match (&def.pattern, def.kind) {
            (Some(p), SlotKind::Regex) => self.regex(Some(i), &owner, p),
            (None, SlotKind::Regex) => {
                let line = self.lines.key_in(Some(i), "kind");
                self.error(
                    line,
                    format!("{owner} captures `kind: regex` without a `pattern`"),
                );
                None
            }
            (Some(_), _) => {
                let line = self.lines.key_in(Some(i), "pattern");
                self.error(
                    line,
                    format!("{owner}: `pattern` only applies to `kind: regex`"),
                );
                None
            }
            (None, _) => None,
        };
        let bounded = matches!(
            def.kind,
            SlotKind::Number | SlotKind::Amount | SlotKind::Text
        );
        if (def.min.is_some() || def.max.is_some()) && !bounded {
            let line = self
                .lines
                .key_in(Some(i), if def.min.is_some() { "min" } else { "max" });
            self.error(
                line,
                format!("{owner}: `min`/`max` only apply to number, amount and text"),
            );
        }
        Capture {
            slot: def.slot.clone(),
            kind: def.kind,
            pattern,
            min: def.min,
            max: def.max,
            retry: Retry {
                say: self.messages(i, &def.reprompt),
                retries: def.retries.unwrap_or(DEFAULT_RETRIES),
                goto: def.on_fail.clone(),
            },
            goto: def.goto.clone(),
        }
    }

    fn http(&mut self, i: usize, id: &str, def: &HttpDef) -> Http {
        let method = def
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_uppercase();
        if !METHODS.contains(&method.as_str()) {
            let line = self.lines.key_in(Some(i), "method");
            self.error(
                line,
                format!("node `{id}` uses unknown HTTP method `{method}`"),
            );
        }
        if def.url.trim().is_empty() {
            let line = self.lines.key_in(Some(i), "url");
            self.error(line, format!("node `{id}` has an empty `url`"));
        }
        self.target(i, id, &def.goto);
        if let Some(t) = &def.on_error {
            self.target(i, id, t);
        }
        let routes = def
            .routes
            .iter()
            .map(|r| {
                self.target(i, id, &r.goto);
                HttpRoute {
                    path: r.when.path.clone(),
                    equals: r.when.equals.clone(),
                    goto: r.goto.clone(),
                }
            })
            .collect();
        Http {
            method,
            url: def.url.clone(),
            headers: def.headers.clone(),
            body: def.body.clone(),
            timeout_secs: def.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS),
            save_as: def.save_as.clone(),
            routes,
            goto: def.goto.clone(),
            on_error: def.on_error.clone(),
        }
    }

    fn messages(&mut self, i: usize, defs: &[MessageDef]) -> Vec<Message> {
        defs.iter().filter_map(|m| self.message(i, m)).collect()
    }

    fn message(&mut self, i: usize, def: &MessageDef) -> Option<Message> {
        let m = &def.0;
        let media = |kind, d: &super::def::MediaDef| Message::Media {
            kind,
            url: d.0.url.clone(),
            name: d.0.name.clone(),
        };
        let mut all: Vec<(&str, Message)> = Vec::new();
        if let Some(text) = &m.text {
            all.push(("text", Message::Text(text.clone())));
        }
        for (key, kind, d) in [
            ("image", MediaKind::Image, &m.image),
            ("video", MediaKind::Video, &m.video),
            ("audio", MediaKind::Audio, &m.audio),
            ("file", MediaKind::File, &m.file),
        ] {
            if let Some(d) = d {
                all.push((key, media(kind, d)));
            }
        }
        if let Some(b) = &m.buttons {
            all.push((
                "buttons",
                Message::Buttons {
                    body: b.body.clone(),
                    footer: b.footer.clone(),
                    options: b.options.clone(),
                },
            ));
        }
        if let Some(l) = &m.list {
            let sections = l
                .sections
                .iter()
                .map(|s| (s.title.clone(), s.rows.clone()))
                .collect();
            all.push((
                "list",
                Message::List {
                    body: l.body.clone(),
                    footer: l.footer.clone(),
                    button: l.button.clone(),
                    sections,
                },
            ));
        }
        if let Some(raw) = &m.content {
            all.push(("content", Message::Raw(raw.clone())));
        }
        // A bare-string message has no key of its own: point at the list holding it.
        let line = |c: &Self, key: &str| {
            [key, "say", "reprompt"]
                .iter()
                .map(|k| c.lines.key_in(Some(i), k))
                .find(|l| *l != c.lines.node(i))
                .unwrap_or_else(|| c.lines.node(i))
        };
        match all.len() {
            0 => {
                let l = line(self, "say");
                self.error(l, "an empty message: give one of text, image, video, audio, file, buttons, list, content".into());
                None
            }
            1 => {
                let (key, msg) = all.pop()?;
                let problem = check(&msg);
                if let Some(problem) = problem {
                    let l = line(self, key);
                    self.error(l, problem);
                }
                Some(msg)
            }
            _ => {
                let keys: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
                let l = line(self, keys[1]);
                self.error(
                    l,
                    format!(
                        "one message with several kinds ({}): make each its own `say` entry",
                        keys.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// Rejects `goto` chains that loop without ever waiting for anything.
    fn goto_cycles(&mut self, def: &FlowDef) {
        let next: HashMap<&str, &str> = def
            .nodes
            .iter()
            .filter_map(|(id, n)| Some((id.as_str(), n.goto.as_deref()?)))
            .collect();
        let mut reported: HashSet<&str> = HashSet::new();
        for (i, (id, _)) in def.nodes.iter().enumerate() {
            let mut seen = vec![id.as_str()];
            let mut at = id.as_str();
            while let Some(&to) = next.get(at) {
                if to == id {
                    if seen.iter().all(|s| reported.insert(s)) {
                        let line = self.lines.node(i);
                        self.error(
                            line,
                            format!("`goto` loop that never waits: {} → {id}", seen.join(" → ")),
                        );
                    }
                    break;
                }
                if seen.contains(&to) {
                    break;
                }
                seen.push(to);
                at = to;
            }
        }
    }
}
