//! The administration API's OpenAPI 3.1 document, built from the route table in
//! [`super::admin_api`] and the `ToSchema` of the wire types in `tessera_proto::admin`, so that
//! a route or an answer cannot change without the document following.

use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Response, ResponseBuilder, Schema, Type,
};

const DESCRIPTION: &str = "Delegated administration of organisation units, users, role grants, client applications, and officials' signing credentials and certificates (the credential endpoints need the cert_admin role over the owner's unit; no one issues, renews or resumes their own). Call with `Authorization: Bearer <access token>`: a Tessera access token carrying the `tessera:admin` scope, issued to an administration console pinned by the operator (`tessera client add --admin-console`; consoles are read-only here: 403 forbidden on any change), after the person approved it on the consent page with a level 2 sign-in of the last 15 minutes, for a user holding an administrative grant (admin, cert_admin or auditor) over a unit. A grant covers its unit and every unit below it; objects outside the caller's scope answer 404, units outside it named in a request answer 403 out_of_scope. Objects without a unit belong to administrators of the root unit, when there is exactly one top-level unit. Every change is recorded in the audit log with the administrator's user id.";

const TAGS: [&str; 6] = ["meta", "units", "users", "grants", "clients", "credentials"];

/// The refusals every authenticated endpoint may answer, as named responses.
const ERRORS: [(&str, &str, &str); 5] = [
    ("400", "Invalid", "invalid input (invalid_request)"),
    (
        "401",
        "Unauthorized",
        "no usable access token (unauthorized, invalid_token)",
    ),
    (
        "403",
        "Forbidden",
        "forbidden, out_of_scope or insufficient_scope",
    ),
    (
        "404",
        "NotFound",
        "unknown, or outside the caller's scope (not_found)",
    ),
    (
        "409",
        "Conflict",
        "conflicts with the current state (conflict)",
    ),
];

/// A wire type's schema name, with its own schema and those it refers to.
pub struct Answer {
    name: String,
    schemas: Vec<(String, RefOr<Schema>)>,
    /// Bytes of this media type (an image) instead of JSON.
    media: Option<&'static str>,
}

impl Answer {
    /// An answer that is bytes of `media` (e.g. `image/png`), not a JSON wire type.
    pub fn bytes(media: &'static str) -> Answer {
        Answer {
            name: String::new(),
            schemas: Vec::new(),
            media: Some(media),
        }
    }
}

pub fn answer_of<T: ToSchema>() -> Answer {
    let name = T::name().into_owned();
    let mut schemas = vec![(name.clone(), T::schema())];
    T::schemas(&mut schemas);
    Answer {
        name,
        schemas,
        media: None,
    }
}

/// A request body: a wire type as JSON, or a certificate as the external CA issued it.
pub enum RequestBody {
    Json { answer: Answer, required: bool },
    Certificate(&'static str),
}

impl RequestBody {
    pub fn json<T: ToSchema>(required: bool) -> RequestBody {
        RequestBody::Json {
            answer: answer_of::<T>(),
            required,
        }
    }

    pub fn certificate(description: &'static str) -> RequestBody {
        RequestBody::Certificate(description)
    }
}

/// Media types a certificate import takes; the format is recognised from the bytes.
const CERTIFICATE_TYPES: [&str; 4] = [
    "application/pem-certificate-chain",
    "application/x-pem-file",
    "application/pkix-cert",
    "application/pkcs7-mime",
];

/// The document under construction, a route at a time.
pub struct Document {
    paths: Paths,
    components: ComponentsBuilder,
}

impl Document {
    pub fn new() -> Document {
        let mut components = ComponentsBuilder::new().security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT (RFC 9068 at+jwt) with scope tessera:admin")
                    .build(),
            ),
        );
        let error = answer_of::<tessera_proto::admin::ApiError>();
        for (_, name, description) in ERRORS {
            components = components.response(name, json_response(description, &error.name));
        }
        components = components.schemas_from_iter(error.schemas);
        Document {
            paths: Paths::new(),
            components,
        }
    }

    pub fn route(
        &mut self,
        method: &str,
        path: &str,
        status: u16,
        summary: &str,
        answer: Option<Answer>,
        body: Option<RequestBody>,
    ) {
        let public = path == "/admin/api/openapi.json";
        let success = match answer {
            Some(Answer {
                media: Some(media), ..
            }) => ResponseBuilder::new()
                .description("success")
                .content(
                    media,
                    ContentBuilder::new()
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(Type::String)
                                .content_media_type(media)
                                .build(),
                        ))
                        .build(),
                )
                .build(),
            Some(a) => {
                let r = json_response("success", &a.name);
                let schemas = std::mem::take(&mut self.components);
                self.components = schemas.schemas_from_iter(a.schemas);
                r
            }
            None if public => ResponseBuilder::new()
                .description("this document")
                .content("application/json", ContentBuilder::new().build())
                .build(),
            None => ResponseBuilder::new().description("done").build(),
        };
        let mut op = OperationBuilder::new()
            .summary(Some(summary))
            .tag(tag_of(path))
            .response(status.to_string(), success);
        if let Some(body) = body {
            op = op.request_body(Some(self.request_body(body)));
        }
        for name in path_parameters(path) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(utoipa::openapi::Required::True)
                    .schema(Some(
                        utoipa::openapi::ObjectBuilder::new().schema_type(Type::String),
                    ))
                    .build(),
            );
        }
        if public {
            // The document itself needs no token.
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        } else {
            for (code, name, _) in ERRORS {
                op = op.response(code, Ref::from_response_name(name));
            }
        }
        self.paths
            .add_path_operation(path, vec![http_method(method)], op.build());
    }

    fn request_body(&mut self, body: RequestBody) -> utoipa::openapi::request_body::RequestBody {
        let builder = utoipa::openapi::request_body::RequestBodyBuilder::new();
        match body {
            RequestBody::Json { answer, required } => {
                let schemas = std::mem::take(&mut self.components);
                self.components = schemas.schemas_from_iter(answer.schemas);
                let required = if required {
                    utoipa::openapi::Required::True
                } else {
                    // An empty body means the defaults.
                    utoipa::openapi::Required::False
                };
                builder
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(answer.name)))
                            .build(),
                    )
                    .required(Some(required))
                    .build()
            }
            RequestBody::Certificate(description) => {
                let bytes = || {
                    utoipa::openapi::ObjectBuilder::new()
                        .schema_type(Type::String)
                        .content_media_type("application/octet-stream")
                        .build()
                };
                CERTIFICATE_TYPES
                    .iter()
                    .fold(builder.description(Some(description)), |b, media| {
                        b.content(*media, ContentBuilder::new().schema(Some(bytes())).build())
                    })
                    .required(Some(utoipa::openapi::Required::True))
                    .build()
            }
        }
    }

    pub fn finish(self) -> OpenApi {
        OpenApiBuilder::new()
            .info(
                InfoBuilder::new()
                    .title("Tessera administration API")
                    .version("1")
                    .description(Some(DESCRIPTION))
                    .build(),
            )
            .servers(Some(vec![Server::new("/")]))
            .security(Some(vec![SecurityRequirement::new(
                "bearer",
                Vec::<String>::new(),
            )]))
            .tags(Some(TAGS.map(Tag::new)))
            .paths(self.paths)
            .components(Some(self.components.build()))
            .build()
    }
}

fn json_response(description: &str, schema: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name(schema)))
                .build(),
        )
        .build()
}

fn http_method(m: &str) -> HttpMethod {
    match m {
        "post" => HttpMethod::Post,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        "put" => HttpMethod::Put,
        _ => HttpMethod::Get,
    }
}

/// `/admin/api/users/{id}/grants` → `grants`; the document and `me` are `meta`.
fn tag_of(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches("/admin/api/").split('/').collect();
    TAGS.iter()
        .rev()
        .find(|t| segments.contains(t))
        .copied()
        .unwrap_or("meta")
}

fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}
