//! Reading a user's answer: which option it picks (by id, spec §1.2) and what text it says.

use super::{
    message_rules::same,
    model::{Message, Node, Test},
};
use crate::messages::Content;

/// A user's message reduced to what routes look at.
#[derive(Debug, Default)]
pub(super) struct Answer {
    /// The option id of a button_reply / list_reply.
    pub id: Option<String>,
    /// The text to match titles, keywords and regexes against: a LINE id's title, the
    /// reply's title, or the message text.
    pub text: String,
}

impl Answer {
    pub fn of(content: &Content) -> Self {
        let pick = match content {
            Content::Interactive(c) => c.interactive().and_then(|i| i.selection()),
            _ => None,
        };
        let id = pick.and_then(|p| p.id.clone());
        let title = id.as_deref().and_then(|id| OptionId::parse(id)?.title);
        let text = title
            .map(str::to_owned)
            .or_else(|| pick.and_then(|p| p.title.clone()))
            .or_else(|| content.text().map(str::to_owned))
            .unwrap_or_default();
        Self {
            id,
            text: text.trim().to_owned(),
        }
    }

    /// The title of the option of `node` (number `node_no`) this answer's id points at, if
    /// the id is from this flow and this node.
    pub fn option_of<'n>(&self, flow_id: &str, node_no: usize, node: &'n Node) -> Option<&'n str> {
        let id = OptionId::parse(self.id.as_deref()?)?;
        if id.flow_id != flow_id || id.node_no != node_no {
            return None;
        }
        let (_, msg) = node.numbered().find(|(n, _)| *n == id.msg_no)?;
        match (msg, id.pick) {
            (Message::Buttons { options, .. }, Pick::Button(i)) => options.get(i),
            (Message::List { sections, .. }, Pick::Row(s, r)) => sections.get(s)?.1.get(r),
            _ => None,
        }
        .map(String::as_str)
    }
}

impl Test {
    /// Does `answer` pass? `picked` is the title its id resolved to in the waiting node;
    /// when there is one, an `option` test compares only that (so a stale title typed by
    /// hand cannot pick a different option than the id).
    pub fn passes(&self, answer: &Answer, picked: Option<&str>) -> bool {
        match self {
            Test::Option(title) => same(picked.unwrap_or(&answer.text), title),
            Test::Keywords(words) => {
                let text = answer.text.to_lowercase();
                words.iter().any(|w| text.contains(w.as_str()))
            }
            Test::Regex(re) => re.is_match(&answer.text),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pick {
    Button(usize),
    Row(usize, usize),
}

/// A parsed option id: `<flow>-<node>-<msg>-button-<i>-` or `…-list-<s>-<r>-`, with an
/// optional `-<title>` after the final dash (LINE postback data).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct OptionId<'a> {
    pub flow_id: &'a str,
    pub node_no: usize,
    pub msg_no: usize,
    pub pick: Pick,
    pub title: Option<&'a str>,
}

impl<'a> OptionId<'a> {
    pub fn parse(id: &'a str) -> Option<Self> {
        let mut parts = id.splitn(5, '-');
        let flow_id = parts.next()?;
        let node_no = parts.next()?.parse().ok()?;
        let msg_no = parts.next()?.parse().ok()?;
        let kind = parts.next()?;
        let tail = parts.next()?;
        let (pick, rest) = match kind {
            "button" => {
                let (i, rest) = tail.split_once('-')?;
                (Pick::Button(i.parse().ok()?), rest)
            }
            "list" => {
                let (s, tail) = tail.split_once('-')?;
                let (r, rest) = tail.split_once('-')?;
                (Pick::Row(s.parse().ok()?, r.parse().ok()?), rest)
            }
            _ => return None,
        };
        let title = match rest {
            "" => None,
            _ => Some(rest.strip_prefix('-')?).filter(|t| !t.is_empty()),
        };
        Some(Self {
            flow_id,
            node_no,
            msg_no,
            pick,
            title,
        })
    }
}
