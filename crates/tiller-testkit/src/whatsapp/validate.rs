//! The body rules of `POST /{version}/{phone_number_id}/messages`, with the error Meta
//! gives for each: Graph schema errors (`(#100) …`) first, then WhatsApp value errors.
//! Pure over the JSON; what needs the fake's state (templates, media ids) is returned.

use serde_json::{Map, Value};

use super::errors::GraphError;

mod interactive;

type Result<T> = std::result::Result<T, GraphError>;

/// The message types the Cloud API sends, each with an object of the same name.
pub const TYPES: &[&str] = &[
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
    "template",
];

/// What a valid body asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `{"status":"read","message_id":…}`: a read receipt for an inbound message.
    MarkRead {
        message_id: String,
    },
    Send(Send),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    /// `to` as given, echoed as `contacts[0].input`.
    pub input: String,
    /// `to` without its `+`: the user's WhatsApp id.
    pub wa_id: String,
    pub kind: String,
    pub template: Option<TemplateRef>,
    /// A media object given by `id`: the id must be one the fake holds.
    pub media_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRef {
    pub name: String,
    pub language: String,
    /// Parameters of the `body` component, when the send gives one.
    pub body_params: usize,
}

pub fn request(body: &[u8]) -> Result<Request> {
    // Graph reads a body that is not a JSON object as no parameters at all.
    let parsed: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
    let top = At::root(&parsed);
    if top.obj.contains_key("status") {
        return mark_read(&top);
    }
    send(&top).map(Request::Send)
}

fn messaging_product(top: &At<'_>) -> Result<()> {
    let product = top.req_str("messaging_product")?;
    if product.eq_ignore_ascii_case("whatsapp") {
        Ok(())
    } else {
        Err(GraphError::one_of(
            "messaging_product",
            &["whatsapp"],
            product,
        ))
    }
}

fn mark_read(top: &At<'_>) -> Result<Request> {
    top.only(&[
        "messaging_product",
        "status",
        "message_id",
        "typing_indicator",
    ])?;
    messaging_product(top)?;
    let status = top.req_str("status")?;
    if status != "read" {
        return Err(GraphError::one_of("status", &["read"], status));
    }
    let message_id = top.req_str("message_id")?.to_owned();
    Ok(Request::MarkRead { message_id })
}

fn send(top: &At<'_>) -> Result<Send> {
    let mut allowed = vec![
        "messaging_product",
        "recipient_type",
        "to",
        "type",
        "context",
        "biz_opaque_callback_data",
    ];
    allowed.extend_from_slice(TYPES);
    top.only(&allowed)?;
    messaging_product(top)?;
    if let Some(rt) = top.str("recipient_type")? {
        if rt != "individual" {
            return Err(GraphError::one_of("recipient_type", &["individual"], rt));
        }
    }
    let input = top.req_str("to")?.to_owned();
    let kind = top.str("type")?.unwrap_or("text");
    if !TYPES.contains(&kind) {
        return Err(GraphError::one_of("type", TYPES, kind));
    }
    // An object for another type than `type` is a key the schema of this send lacks.
    if let Some(other) = TYPES
        .iter()
        .find(|t| **t != kind && top.obj.contains_key(**t))
    {
        return Err(GraphError::unexpected_key(other, None));
    }
    if let Some(context) = top.opt_obj("context")? {
        context.only(&["message_id"])?;
        context.req_str("message_id")?;
    }
    let biz = top.str("biz_opaque_callback_data")?;
    if let Some(b) = biz {
        top.max_chars("biz_opaque_callback_data", b, 512)?;
    }
    let mut template = None;
    let mut media_id = None;
    if kind == "contacts" {
        // The one type whose "object" is an array.
        contacts(top)?;
    } else {
        let object = top.req_obj(kind)?;
        match kind {
            "text" => text(&object)?,
            "image" | "video" | "audio" | "document" | "sticker" => {
                media_id = media(&object, kind)?;
            }
            "location" => location(&object)?,
            "interactive" => interactive::check(&object)?,
            "reaction" => reaction(&object)?,
            _ => template = Some(template_ref(&object)?),
        }
    }
    let wa_id = wa_id(&input)?;
    Ok(Send {
        input,
        wa_id,
        kind: kind.to_owned(),
        template,
        media_id,
        biz_opaque_callback_data: biz.map(str::to_owned),
    })
}

/// 8–15 digits, optionally after a `+`.
pub fn wa_id(to: &str) -> Result<String> {
    let digits = to.strip_prefix('+').unwrap_or(to);
    if (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits.to_owned())
    } else {
        Err(GraphError::invalid_parameter(format!(
            "Invalid value for parameter 'to' ({to}): a phone number of 8 to 15 digits, \
             optionally with a leading +, is expected"
        )))
    }
}

fn text(o: &At<'_>) -> Result<()> {
    o.only(&["body", "preview_url"])?;
    let body = o.req_str("body")?;
    o.max_chars("body", body, 4096)?;
    o.bool("preview_url")?;
    Ok(())
}

fn media(o: &At<'_>, kind: &str) -> Result<Option<String>> {
    let mut allowed = vec!["id", "link"];
    if matches!(kind, "image" | "video" | "document") {
        allowed.push("caption");
    }
    if kind == "document" {
        allowed.push("filename");
    }
    o.only(&allowed)?;
    if let Some(caption) = o.str("caption")? {
        o.max_chars("caption", caption, 1024)?;
    }
    o.str("filename")?;
    match (o.str("id")?, o.str("link")?) {
        (Some(id), None) => Ok(Some(id.to_owned())),
        (None, Some(link)) if link.starts_with("https://") || link.starts_with("http://") => {
            Ok(None)
        }
        (None, Some(link)) => Err(GraphError::invalid_parameter(format!(
            "Param {kind}['link'] is not a valid URL: {link}"
        ))),
        (None, None) => Err(GraphError::invalid_parameter(format!(
            "Either {kind}['id'] or {kind}['link'] is required"
        ))),
        (Some(_), Some(_)) => Err(GraphError::invalid_parameter(format!(
            "Only one of {kind}['id'] and {kind}['link'] may be given"
        ))),
    }
}

fn location(o: &At<'_>) -> Result<()> {
    o.only(&["latitude", "longitude", "name", "address"])?;
    for key in ["latitude", "longitude"] {
        // The reference shows both numbers and numeric strings; Meta takes either.
        let ok = match o.obj.get(key) {
            None => return Err(GraphError::required(&o.name(key))),
            Some(Value::Number(_)) => true,
            Some(Value::String(s)) => s.parse::<f64>().is_ok(),
            Some(_) => false,
        };
        if !ok {
            return Err(GraphError::param(&o.name(key), "a number"));
        }
    }
    o.str("name")?;
    o.str("address")?;
    Ok(())
}

fn contacts(top: &At<'_>) -> Result<()> {
    let list = match top.obj.get("contacts") {
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => {
            return Err(GraphError::invalid_parameter(
                "Param contacts must contain at least one contact",
            ))
        }
        None => return Err(GraphError::required("contacts")),
        Some(_) => return Err(GraphError::param("contacts", "an array")),
    };
    for (i, c) in list.iter().enumerate() {
        let c = At::element(&top.name("contacts"), i, c)?;
        c.only(&[
            "name",
            "addresses",
            "birthday",
            "emails",
            "org",
            "phones",
            "urls",
        ])?;
        c.req_obj("name")?.req_str("formatted_name")?;
    }
    Ok(())
}

fn reaction(o: &At<'_>) -> Result<()> {
    o.only(&["message_id", "emoji"])?;
    o.req_str("message_id")?;
    // An empty emoji removes the reaction, so presence is all that is required.
    if o.str("emoji")?.is_none() {
        return Err(GraphError::required(&o.name("emoji")));
    }
    Ok(())
}

fn template_ref(o: &At<'_>) -> Result<TemplateRef> {
    o.only(&["name", "language", "components"])?;
    let name = o.req_str("name")?.to_owned();
    let language = o.req_obj("language")?;
    language.only(&["code", "policy"])?;
    let code = language.req_str("code")?.to_owned();
    let mut body_params = 0;
    if let Some(components) = o.opt_array("components")? {
        for (i, c) in components.iter().enumerate() {
            let c = At::element(&o.name("components"), i, c)?;
            let kind = c.req_str("type")?;
            if kind.eq_ignore_ascii_case("body") {
                body_params = c.opt_array("parameters")?.map_or(0, Vec::len);
            }
        }
    }
    Ok(TemplateRef {
        name,
        language: code,
        body_params,
    })
}

/// An object of the body with its Graph parameter name (`interactive['action']`).
struct At<'a> {
    path: String,
    obj: &'a Map<String, Value>,
}

impl<'a> At<'a> {
    fn root(obj: &'a Map<String, Value>) -> Self {
        Self {
            path: String::new(),
            obj,
        }
    }

    fn element(array: &str, index: usize, value: &'a Value) -> Result<Self> {
        let path = format!("{array}[{index}]");
        match value {
            Value::Object(obj) => Ok(Self { path, obj }),
            _ => Err(GraphError::param(&path, "an object")),
        }
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}['{key}']", self.path)
        }
    }

    fn only(&self, allowed: &[&str]) -> Result<()> {
        match self.obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) if self.path.is_empty() => Err(GraphError::unexpected_key(k, None)),
            Some(k) => Err(GraphError::unexpected_key(k, Some(&self.path))),
            None => Ok(()),
        }
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(GraphError::param(&self.name(key), "a string")),
        }
    }

    /// Present and not empty: Graph treats `""` as a missing required parameter.
    fn req_str(&self, key: &str) -> Result<&'a str> {
        match self.str(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(GraphError::required(&self.name(key))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(GraphError::param(&self.name(key), "a boolean")),
        }
    }

    fn opt_obj(&self, key: &str) -> Result<Option<At<'a>>> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(Value::Object(obj)) => Ok(Some(At {
                path: self.name(key),
                obj,
            })),
            Some(_) => Err(GraphError::param(&self.name(key), "an object")),
        }
    }

    fn req_obj(&self, key: &str) -> Result<At<'a>> {
        self.opt_obj(key)?
            .ok_or_else(|| GraphError::required(&self.name(key)))
    }

    fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>> {
        match self.obj.get(key) {
            None => Ok(None),
            Some(Value::Array(list)) => Ok(Some(list)),
            Some(_) => Err(GraphError::param(&self.name(key), "an array")),
        }
    }

    fn req_array(&self, key: &str) -> Result<&'a Vec<Value>> {
        self.opt_array(key)?
            .ok_or_else(|| GraphError::required(&self.name(key)))
    }

    fn max_chars(&self, key: &str, value: &str, max: usize) -> Result<()> {
        if value.chars().count() > max {
            Err(GraphError::param(
                &self.name(key),
                &format!("at most {max} characters long"),
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(body: &Value) -> Result<Request> {
        request(body.to_string().as_bytes())
    }

    #[test]
    fn a_text_send_reads_its_recipient() {
        let r = check(
            &json!({"messaging_product":"whatsapp","to":"+6281234567","type":"text",
            "text":{"body":"hi","preview_url":false}}),
        );
        let Ok(Request::Send(s)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(
            (s.input.as_str(), s.wa_id.as_str()),
            ("+6281234567", "6281234567")
        );
    }

    #[test]
    fn paths_name_the_nested_param() {
        let long = "x".repeat(21);
        let e = check(
            &json!({"messaging_product":"whatsapp","to":"6281234567","type":"interactive",
            "interactive":{"type":"button","body":{"text":"pick"},"action":{"buttons":[
                {"type":"reply","reply":{"id":"a","title":long}}]}}}),
        )
        .unwrap_err();
        assert_eq!(e.code, 131_009);
        let e = check(
            &json!({"messaging_product":"whatsapp","to":"6281234567","type":"template",
            "template":{"name":"t","language":{"code":"en","polcy":"x"}}}),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "(#100) Unexpected key \"polcy\" on param \"template['language']\"."
        );
    }

    #[test]
    fn a_body_that_is_not_json_lacks_messaging_product() {
        let e = request(b"to=1").unwrap_err();
        assert_eq!(
            e.message,
            "(#100) The parameter messaging_product is required."
        );
    }

    #[test]
    fn contacts_need_a_formatted_name() {
        let e = check(
            &json!({"messaging_product":"whatsapp","to":"6281234567","type":"contacts",
            "contacts":[{"name":{"first_name":"A"}}]}),
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "(#100) The parameter contacts[0]['name']['formatted_name'] is required."
        );
    }
}
