//! Interactive messages: reply buttons (1–3, titles up to 20 characters) and lists (up to
//! 10 rows in all, row titles up to 24), with the 131009 details Meta gives.

use super::{At, GraphError, Result};

const INTERACTIVE_TYPES: &[&str] = &[
    "button",
    "list",
    "cta_url",
    "flow",
    "product",
    "product_list",
    "catalog_message",
    "location_request_message",
    "address_message",
];

pub(super) fn check(o: &At<'_>) -> Result<()> {
    o.only(&["type", "header", "body", "footer", "action"])?;
    let kind = o.req_str("type")?;
    if !INTERACTIVE_TYPES.contains(&kind) {
        return Err(GraphError::one_of(&o.name("type"), INTERACTIVE_TYPES, kind));
    }
    let action = o.req_obj("action")?;
    if !matches!(kind, "button" | "list") {
        return Ok(());
    }
    let body = o.req_obj("body")?;
    body.only(&["text"])?;
    let text = body.req_str("text")?;
    body.max_chars("text", text, 1024)?;
    if let Some(footer) = o.opt_obj("footer")? {
        footer.only(&["text"])?;
        let text = footer.req_str("text")?;
        footer.max_chars("text", text, 60)?;
    }
    if let Some(header) = o.opt_obj("header")? {
        let kind = header.req_str("type")?;
        if kind == "text" {
            let text = header.req_str("text")?;
            header.max_chars("text", text, 60)?;
        }
    }
    if kind == "button" {
        buttons(&action)
    } else {
        list(&action)
    }
}

fn buttons(action: &At<'_>) -> Result<()> {
    action.only(&["buttons"])?;
    let list = action.req_array("buttons")?;
    if !(1..=3).contains(&list.len()) {
        return Err(GraphError::value_not_valid(
            "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3",
        ));
    }
    let mut seen = Vec::new();
    for (i, b) in list.iter().enumerate() {
        let b = At::element(&action.name("buttons"), i, b)?;
        b.only(&["type", "reply"])?;
        let kind = b.req_str("type")?;
        if kind != "reply" {
            return Err(GraphError::one_of(&b.name("type"), &["reply"], kind));
        }
        let reply = b.req_obj("reply")?;
        reply.only(&["id", "title"])?;
        let id = reply.req_str("id")?;
        reply.max_chars("id", id, 256)?;
        let title = reply.req_str("title")?;
        if title.chars().count() > 20 {
            return Err(GraphError::value_not_valid(
                "Button title length invalid. Min length: 1, Max length: 20",
            ));
        }
        if seen.iter().any(|(i, t)| *i == id || *t == title) {
            return Err(GraphError::value_not_valid(
                "Button title and id must be unique within a message",
            ));
        }
        seen.push((id, title));
    }
    Ok(())
}

fn list(action: &At<'_>) -> Result<()> {
    action.only(&["button", "sections"])?;
    let button = action.req_str("button")?;
    if button.chars().count() > 20 {
        return Err(GraphError::value_not_valid(
            "Button title length invalid. Min length: 1, Max length: 20",
        ));
    }
    let sections = action.req_array("sections")?;
    if !(1..=10).contains(&sections.len()) {
        return Err(GraphError::value_not_valid(
            "Invalid sections count. Min allowed sections: 1, Max allowed sections: 10",
        ));
    }
    let mut ids = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let s = At::element(&action.name("sections"), i, s)?;
        s.only(&["title", "rows", "product_items"])?;
        match s.str("title")? {
            Some(t) if t.chars().count() > 24 => {
                return Err(GraphError::value_not_valid(
                    "Section title length invalid. Min length: 1, Max length: 24",
                ))
            }
            None if sections.len() > 1 => return Err(GraphError::required(&s.name("title"))),
            _ => {}
        }
        let rows = s.req_array("rows")?;
        for (j, r) in rows.iter().enumerate() {
            let r = At::element(&s.name("rows"), j, r)?;
            r.only(&["id", "title", "description"])?;
            let id = r.req_str("id")?;
            r.max_chars("id", id, 200)?;
            if r.req_str("title")?.chars().count() > 24 {
                return Err(GraphError::value_not_valid(
                    "Row title length invalid. Min length: 1, Max length: 24",
                ));
            }
            if let Some(d) = r.str("description")? {
                if d.chars().count() > 72 {
                    return Err(GraphError::value_not_valid(
                        "Row description length invalid. Min length: 1, Max length: 72",
                    ));
                }
            }
            if ids.contains(&id) {
                return Err(GraphError::value_not_valid("Row ids must be unique"));
            }
            ids.push(id);
        }
    }
    if ids.len() > 10 {
        return Err(GraphError::value_not_valid(
            "Total row count exceed max allowed count: 10",
        ));
    }
    Ok(())
}
