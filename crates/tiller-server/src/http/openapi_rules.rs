//! Rules operations and request schemas share, written into the generated document (a
//! `Modify` on `ApiDoc` runs before the paths exist):
//! - per surface, when its router is built ([`document_errors`]): every operation of an
//!   `/api/v1`, `/service` or `/files` surface documents its 400 in the surface's envelope
//!   (malformed JSON, wrong types, values or lists over their limits, bad path values);
//!   nxlink operations answer errors with HTTP 200, so their 200 body is `oneOf` the page
//!   and `NxError`;
//! - once the routes are merged ([`apply`]): request schemas (`…In`) accept unknown fields
//!   (`additionalProperties: true`), and the shared fields carry their limits: `call_id`
//!   1–128 characters, `size` 1–100.

use utoipa::{
    openapi::{
        schema::{AdditionalProperties, OneOfBuilder, Schema},
        ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder,
    },
    PartialSchema as _,
};

use super::{envelope::NxError, params::MAX_PAGE, surface::Envelope};

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
}

/// Documents the errors of one surface's operations in its envelope (called by
/// [`Envelope::surface`] on the surface's own document): a 400 for /api/v1 and
/// /service/cloud operations that do not describe one, and for nxlink, whose errors come
/// with HTTP 200, a 200 body that is `oneOf` the page and `NxError`.
pub fn document_errors(envelope: Envelope, doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [&mut item.get, &mut item.post].into_iter().flatten() {
            let responses = &mut op.responses.responses;
            match envelope {
                Envelope::Nxlink => {
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
                Envelope::V1 | Envelope::Cloud => {
                    let schema = if envelope == Envelope::Cloud {
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
                                        .schema(Some(Ref::from_schema_name(schema)))
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
