//! Media: metadata by id, the download URL behind the token, and uploads.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::*;

#[tokio::test]
async fn media_metadata_points_at_bytes_that_need_the_token() {
    let (fake, _receiver) = start_unlimited().await;
    let bytes = b"\x89PNG\r\n\x1a\nnot really a png".to_vec();
    let id = fake.add_media(bytes.clone(), "image/png");

    let (status, info) = get(&fake, &format!("/v21.0/{id}")).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["messaging_product"], "whatsapp");
    assert_eq!(info["id"], id.as_str());
    assert_eq!(info["mime_type"], "image/png");
    assert_eq!(info["file_size"], bytes.len());
    assert_eq!(info["sha256"], hex::encode(Sha256::digest(&bytes)));
    let url = info["url"].as_str().expect("url");

    let with_token = client()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(with_token.status().as_u16(), 200);
    assert_eq!(
        with_token.headers()["content-type"]
            .to_str()
            .expect("ascii"),
        "image/png"
    );
    assert_eq!(with_token.bytes().await.expect("bytes").to_vec(), bytes);
    let without = client().get(url).send().await.expect("get");
    assert_eq!(without.status().as_u16(), 401);

    let (status, answer) = get(&fake, "/v21.0/4242").await;
    assert_eq!(status, 400);
    let e = graph_error(&answer, 100);
    assert_eq!(e["error_subcode"], 33);
    assert!(e["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("Unsupported get request. Object with ID '4242'")));
}

/// A form field: name, (filename, content type) for a file, and the data.
type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

fn multipart(boundary: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some((filename, mime)) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                     Content-Type: {mime}\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

async fn upload(fake: &FakeWhatsApp, phone_number_id: &str, body: Vec<u8>) -> (u16, Value) {
    let response = client()
        .post(format!("{}/v21.0/{phone_number_id}/media", fake.base_url()))
        .bearer_auth(TOKEN)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_uploaded_file_can_be_fetched_and_sent_by_id() {
    let (fake, _receiver) = start_unlimited().await;
    let pdf = b"%PDF-1.4 fake".as_slice();
    let body = multipart(
        "XyZ",
        &[
            ("messaging_product", None, b"whatsapp"),
            ("type", None, b"application/pdf"),
            ("file", Some(("a.pdf", "application/pdf")), pdf),
        ],
    );
    let (status, answer) = upload(&fake, PNID, body).await;
    assert_eq!(status, 200, "{answer}");
    let id = answer["id"].as_str().expect("media id").to_owned();
    let (_, info) = get(&fake, &format!("/v21.0/{id}")).await;
    assert_eq!(info["mime_type"], "application/pdf");
    assert_eq!(info["file_size"], pdf.len());
    let (status, answer) = send(
        &fake,
        &serde_json::json!({"messaging_product": "whatsapp", "to": USER, "type": "document",
                            "document": {"id": id, "filename": "a.pdf"}}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");

    let no_product = multipart("XyZ", &[("file", Some(("a.pdf", "application/pdf")), pdf)]);
    let (status, answer) = upload(&fake, PNID, no_product).await;
    assert_eq!(status, 400);
    assert_eq!(
        graph_error(&answer, 100)["message"],
        "(#100) The parameter messaging_product is required."
    );
    let no_file = multipart("XyZ", &[("messaging_product", None, b"whatsapp")]);
    assert_eq!(upload(&fake, PNID, no_file).await.0, 400);
    let body = multipart("XyZ", &[("messaging_product", None, b"whatsapp")]);
    let (_, answer) = upload(&fake, "777", body).await;
    assert_eq!(graph_error(&answer, 100)["error_subcode"], 33);
}
