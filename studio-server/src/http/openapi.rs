// SPDX-License-Identifier: MPL-2.0
//! The API description served at `GET /api/openapi.json`.
//!
//! Each handler's `#[utoipa::path]` annotation is read by `utoipa_axum::routes!`, which
//! both routes the handler and records the operation, so the document cannot name a
//! route the server lacks nor miss one it serves. Operations need a bearer token
//! unless they say `security(())`; every operation's other answers share one error body.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::error::ErrorBody;

/// A file's bytes (media, images) in a response body: a binary string, where `Vec<u8>`
/// would be described as an array of integers.
pub(super) struct FileBytes;

impl utoipa::PartialSchema for FileBytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .into()
    }
}

impl utoipa::ToSchema for FileBytes {}

/// Name of the shared error response in `components.responses`.
const ERROR_RESPONSE: &str = "Error";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Reenact Studio API",
        description = "Accounts, projects, media, jobs, renders and live sessions of a Reenact Studio server. \
                       Sign in with `POST /api/auth/login` and send the access token as `Authorization: Bearer`."
    ),
    security(("bearer" = [])),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "projects", description = "Projects and their timelines"),
        (name = "media", description = "Uploaded and imported clips"),
        (name = "characters", description = "Characters (portraits) and voices"),
        (name = "jobs", description = "Background work: progress, retries, cancellation"),
        (name = "renders", description = "Delivery renders and their files"),
        (name = "live", description = "Live sessions and their WHEP viewers"),
        (name = "models", description = "The models the studio runs, their licences, and installing more"),
        (name = "operations", description = "Probes for operators and orchestrators"),
    )
)]
pub(super) struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        doc.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Gives every operation the shared error response as its `default` answer. It runs
/// once the routers are merged, when every operation is known.
pub(super) fn add_error_responses(doc: &mut utoipa::openapi::OpenApi) {
    let error = ResponseBuilder::new()
        .description("The request failed; `detail` says why, naming the field at fault where there is one.")
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build();
    doc.components.get_or_insert_with(Default::default).responses.insert(ERROR_RESPONSE.into(), error.into());
    for item in doc.paths.paths.values_mut() {
        let operations =
            [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
        for operation in operations.into_iter().flatten() {
            add_default(operation);
        }
    }
}

fn add_default(operation: &mut Operation) {
    operation
        .responses
        .responses
        .entry("default".into())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(ERROR_RESPONSE)));
}
