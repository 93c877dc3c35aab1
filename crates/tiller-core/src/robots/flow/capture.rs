//! Slot normalisation for `capture`: turning what a user typed into a clean value, or
//! `None` when it is not one (which triggers the reprompt).

use chrono::NaiveDate;
use regex::Regex;
use serde_json::{Number, Value};

use super::model::SlotKind;

/// Currency marks stripped around an amount (`¥1,200`, `1200 元`, `Rp 50000`).
const CURRENCIES: [&str; 13] = [
    "rmb", "cny", "usd", "idr", "php", "rp", "元", "块", "¥", "￥", "$", "€", "£",
];

pub(super) fn normalise(
    kind: SlotKind,
    text: &str,
    pattern: Option<&Regex>,
    min: Option<f64>,
    max: Option<f64>,
) -> Option<Value> {
    let text = text.trim();
    let within = |x: f64| min.is_none_or(|m| x >= m) && max.is_none_or(|m| x <= m);
    match kind {
        SlotKind::Text => {
            #[expect(
                clippy::cast_precision_loss,
                reason = "a character count is far below 2^52"
            )]
            let len = text.chars().count() as f64;
            (!text.is_empty() && within(len)).then(|| Value::String(text.into()))
        }
        SlotKind::Number => number(text).filter(|x| within(*x)).and_then(json_number),
        SlotKind::Amount => amount(text).filter(|x| within(*x)).and_then(json_number),
        SlotKind::Phone => phone(text).map(Value::String),
        SlotKind::Email => email(text).then(|| Value::String(text.into())),
        SlotKind::Date => date(text).map(Value::String),
        SlotKind::Regex => {
            let caps = pattern?.captures(text)?;
            let found = caps.get(1).or_else(|| caps.get(0))?;
            Some(Value::String(found.as_str().into()))
        }
    }
}

/// `1234`, `-3.5`, `1,234.5` (commas and spaces as thousands separators).
fn number(text: &str) -> Option<f64> {
    let clean: String = text
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    clean.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A non-negative number with an optional currency mark before or after it.
fn amount(text: &str) -> Option<f64> {
    let mut rest = text.trim().to_lowercase();
    for c in CURRENCIES {
        if let Some(r) = rest.strip_prefix(c) {
            rest = r.trim().to_owned();
        }
        if let Some(r) = rest.strip_suffix(c) {
            rest = r.trim().to_owned();
        }
    }
    number(&rest).filter(|x| *x >= 0.0)
}

/// An integral value as a JSON integer, anything else as a float.
fn json_number(x: f64) -> Option<Value> {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "checked integral and in range"
    )]
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        return Some(Value::Number((x as i64).into()));
    }
    Number::from_f64(x).map(Value::Number)
}

/// Digits with an optional leading `+`; spaces, dashes, dots and parentheses are dropped.
fn phone(text: &str) -> Option<String> {
    let (plus, rest) = text.strip_prefix('+').map_or(("", text), |r| ("+", r));
    let digits: String = rest.chars().filter(|c| !" -.()".contains(*c)).collect();
    let ok = (7..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit());
    ok.then(|| format!("{plus}{digits}"))
}

/// One `@`, something before it, a dotted domain after it, no spaces.
fn email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !text.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|p| !p.is_empty())
}

/// `2025-05-01`, `2025/5/1`, `2025.5.1`, `2025年5月1日` (year first) or `01/05/2025`,
/// `1-5-2025`, `1.5.2025` (day first, as in Indonesia and most of Asia and Europe), as
/// `YYYY-MM-DD`.
fn date(text: &str) -> Option<String> {
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || "-/. 年月日号".contains(c))
    {
        return None;
    }
    let parts: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .collect();
    let [first, month, last] = parts.as_slice() else {
        return None;
    };
    let (year, day) = match (first.len(), last.len()) {
        (4, 1..=2) => (first, last),
        (1..=2, 4) => (last, first),
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)?;
    Some(date.format("%Y-%m-%d").to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn n(kind: SlotKind, text: &str) -> Option<Value> {
        normalise(kind, text, None, None, None)
    }

    #[test]
    fn dates_in_common_forms() {
        for (input, want) in [
            ("2025-05-01", "2025-05-01"),
            ("2025/5/1", "2025-05-01"),
            ("2025年5月1日", "2025-05-01"),
            ("01/05/2025", "2025-05-01"),
            ("1.5.2025", "2025-05-01"),
        ] {
            assert_eq!(n(SlotKind::Date, input), Some(json!(want)), "{input}");
        }
        for bad in ["2025-02-30", "tomorrow", "5/1", "2025-05-01x"] {
            assert_eq!(n(SlotKind::Date, bad), None, "{bad}");
        }
    }

    #[test]
    fn amounts_numbers_and_bounds() {
        assert_eq!(n(SlotKind::Amount, "¥1,200"), Some(json!(1200)));
        assert_eq!(n(SlotKind::Amount, "35.5 元"), Some(json!(35.5)));
        assert_eq!(n(SlotKind::Amount, "-3"), None);
        assert_eq!(n(SlotKind::Number, "-3"), Some(json!(-3)));
        assert_eq!(
            normalise(SlotKind::Number, "12", None, Some(1.0), Some(10.0)),
            None
        );
        assert_eq!(
            normalise(SlotKind::Text, "abc", None, Some(4.0), None),
            None
        );
    }

    #[test]
    fn phones_and_emails() {
        assert_eq!(
            n(SlotKind::Phone, "+86 137-1111-2222"),
            Some(json!("+8613711112222"))
        );
        assert_eq!(
            n(SlotKind::Phone, "(021) 555 0101"),
            Some(json!("0215550101"))
        );
        assert_eq!(n(SlotKind::Phone, "12345"), None);
        assert_eq!(n(SlotKind::Phone, "+1 555 abc 0101"), None);
        assert_eq!(
            n(SlotKind::Email, " a.b@example.com "),
            Some(json!("a.b@example.com"))
        );
        assert_eq!(n(SlotKind::Email, "a@b"), None);
    }

    #[test]
    fn regex_takes_the_first_group_or_the_match() {
        let re = Regex::new(r"(?i)\b([A-Z0-9]{10,20})\b").unwrap();
        let got = normalise(
            SlotKind::Regex,
            "单号 SF1234567890 谢谢",
            Some(&re),
            None,
            None,
        );
        assert_eq!(got, Some(json!("SF1234567890")));
        assert_eq!(
            normalise(SlotKind::Regex, "abc", Some(&re), None, None),
            None
        );
    }
}
