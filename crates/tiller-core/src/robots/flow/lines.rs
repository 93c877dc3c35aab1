//! Finding the line an error is about. serde errors carry a location; for the semantic
//! checks we search the source text: first for the node's key under `nodes:`, then inside
//! that node for the offending key or value. A miss falls back to the node's own line, so
//! the worst case is a line near the problem, never a wrong file position past it.

pub(super) struct Lines<'a> {
    lines: Vec<&'a str>,
    /// The 0-based line of each node's key, in definition order.
    nodes: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub fn new(source: &'a str, node_ids: &[&str]) -> Self {
        let lines: Vec<&str> = source.lines().collect();
        let mut at = lines.iter().position(|l| is_key(l, "nodes")).unwrap_or(0);
        let mut nodes = Vec::with_capacity(node_ids.len());
        for id in node_ids {
            if let Some(found) = (at..lines.len()).find(|&i| is_key(lines[i], id)) {
                at = found;
            }
            nodes.push(at);
        }
        Self { lines, nodes }
    }

    /// The 1-based line of the first top-level use of `key`, or 1.
    pub fn key(&self, key: &str) -> usize {
        self.lines
            .iter()
            .position(|l| is_key(l, key))
            .map_or(1, |i| i + 1)
    }

    /// The 1-based line of node `index`'s key.
    pub fn node(&self, index: usize) -> usize {
        self.nodes.get(index).map_or(1, |i| i + 1)
    }

    /// The line of `key:` inside node `index` (or anywhere when `index` is `None`).
    pub fn key_in(&self, index: Option<usize>, key: &str) -> usize {
        self.find(index, |l| is_key(l, key))
    }

    /// The line where `value` is written as a value (`goto: trackng`) inside node `index`,
    /// else a line that merely contains it.
    pub fn value_in(&self, index: Option<usize>, value: &str) -> usize {
        let exact = self.find(index, |l| value_is(l, value));
        if exact != self.fallback(index) {
            return exact;
        }
        self.find(index, |l| l.contains(value))
    }

    fn find(&self, index: Option<usize>, pred: impl Fn(&str) -> bool) -> usize {
        let (from, to) = match index {
            Some(i) => (
                self.nodes.get(i).copied().unwrap_or(0),
                self.nodes.get(i + 1).copied().unwrap_or(self.lines.len()),
            ),
            None => (0, self.lines.len()),
        };
        let to = to.max(from + 1).min(self.lines.len());
        (from..to)
            .find(|&i| pred(self.lines[i]))
            .map_or_else(|| self.fallback(index), |i| i + 1)
    }

    fn fallback(&self, index: Option<usize>) -> usize {
        index.map_or(1, |i| self.node(i))
    }
}

/// `key:`, `"key":`, `'key':`, optionally after a list dash or a `{`.
fn is_key(line: &str, key: &str) -> bool {
    let rest = line.trim_start().trim_start_matches(['-', '{', ' ']);
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .any(|k| rest.starts_with(k.as_str()) || line.contains(&format!(", {k}")))
}

/// The text after the line's last `:` is `value` (quotes, commas and braces aside).
fn value_is(line: &str, value: &str) -> bool {
    line.rsplit_once(':').is_some_and(|(_, after)| {
        after
            .trim()
            .trim_end_matches([',', '}', ']'])
            .trim()
            .trim_matches(['"', '\''])
            == value
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "name: t\nstart: a\nnodes:\n  a:\n    goto: b\n  b:\n    ask:\n      routes:\n        - {option: x, goto: trackng}\n  c:\n    end: {}\n";

    #[test]
    fn finds_nodes_keys_and_values() {
        let lines = Lines::new(SOURCE, &["a", "b", "c"]);
        assert_eq!(lines.key("start"), 2);
        assert_eq!((lines.node(0), lines.node(1), lines.node(2)), (4, 6, 10));
        assert_eq!(lines.value_in(Some(1), "trackng"), 9);
        assert_eq!(lines.key_in(Some(1), "routes"), 8);
        // Not in node `c`: falls back to the node's line, not to a match elsewhere.
        assert_eq!(lines.value_in(Some(2), "trackng"), 10);
        assert_eq!(lines.key_in(None, "missing"), 1);
    }

    #[test]
    fn json_keys_and_values_are_found() {
        let json = "{\n  \"name\": \"t\",\n  \"nodes\": {\n    \"a\": {\"goto\": \"zz\"}\n  }\n}";
        let lines = Lines::new(json, &["a"]);
        assert_eq!(lines.key("name"), 2);
        assert_eq!(lines.node(0), 4);
        assert_eq!(lines.value_in(Some(0), "zz"), 4);
    }
}
