//! Rules every operation and request schema shares, written into the generated document
//! once the routes are merged (a `Modify` on `ApiDoc` runs before the paths exist):
//! - every `/api/v1`, `/service` and `/files` operation documents its 400, in its surface's
//!   envelope (malformed JSON, wrong types, values or lists over their limits, bad path
//!   values);
//! - nxlink operations answer errors with HTTP 200, so their 200 body is `oneOf` the page
//!   and `NxError`;
//! - request schemas (`…In`) accept unknown fields (`additionalProperties: true`), and the
//!   shared fields carry their limits: `call_id` 1–128 characters, `size` 1–100.

use utoipa::{
    openapi::{
        schema::{AdditionalProperties, OneOfBuilder, Schema},
        ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder,
    },
    PartialSchema as _,
};

use super::{envelope::NxError, error::Surface, params::MAX_PAGE};

const OPS: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
const BAD_REQUEST: &str = "Malformed JSON, a wrong type or missing field, a value or list over \
                           its documented limit, or a path value that does not parse";
const MAX_CALL_ID: usize = tiller_core::conversations::CallId::MAX_LEN;

pub fn apply(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("NxError".to_owned(), NxError::schema());
    for schema in components
        .schemas
        .iter_mut()
        .filter(|(name, _)| name.ends_with("In"))
        .map(|(_, s)| s)
    {
        request_schema(schema);
    }
    for (path, item) in &mut doc.paths.paths {
        if OPS.contains(&path.as_str()) {
            continue;
        }
        let surface = Surface::of(path);
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            let responses = &mut op.responses.responses;
            match surface {
                Surface::Nxlink => {
                    if let Some(RefOr::T(ok)) = responses.get_mut("200") {
                        for content in ok.content.values_mut() {
                            if let Some(page) = content.schema.take() {
                                content.schema = Some(RefOr::T(Schema::OneOf(
                                    OneOfBuilder::new()
                                        .item(page)
                                        .item(Ref::from_schema_name("NxError"))
                                        .build(),
                                )));
                            }
                        }
                    }
                }
                Surface::ApiV1 | Surface::Cloud => {
                    let envelope = if surface == Surface::Cloud {
                        "CloudError"
                    } else {
                        "V1Error"
                    };
                    responses.entry("400".to_owned()).or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(BAD_REQUEST)
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name(envelope)))
                                        .build(),
                                )
                                .build(),
                        )
                    });
                }
            }
        }
    }
}

fn request_schema(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::Object(obj)) = schema else {
        return;
    };
    obj.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
    for (name, prop) in &mut obj.properties {
        let RefOr::T(Schema::Object(p)) = prop else {
            continue;
        };
        match name.as_str() {
            "call_id" => {
                p.min_length = Some(1);
                p.max_length = Some(MAX_CALL_ID);
            }
            "size" => {
                p.minimum = Some(utoipa::Number::Int(1));
                p.maximum = Some(utoipa::Number::UInt(MAX_PAGE as usize));
            }
            _ => {}
        }
    }
}
