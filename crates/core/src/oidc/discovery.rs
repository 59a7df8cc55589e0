//! Provider metadata (OIDC Discovery 1.0 §3).

use tessera_proto::ProviderMetadata;

use crate::Config;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Client authentication methods; `none` (public clients) not at the introspection endpoint.
const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

pub fn metadata(config: &Config) -> ProviderMetadata {
    ProviderMetadata {
        issuer: config.issuer.clone(),
        authorization_endpoint: config.endpoint("/authorize"),
        token_endpoint: config.endpoint("/token"),
        userinfo_endpoint: config.endpoint("/userinfo"),
        jwks_uri: config.endpoint("/jwks"),
        introspection_endpoint: config.endpoint("/introspect"),
        revocation_endpoint: config.endpoint("/revoke"),
        device_authorization_endpoint: Some(config.endpoint("/device_authorization")),
        // The signing scopes are Tessera's own too (`sign`, CSC `service` and `credential`).
        scopes_supported: strings(&[super::SCOPES, super::SIGNING_SCOPES].concat()),
        response_types_supported: strings(&["code"]),
        response_modes_supported: strings(&["query"]),
        grant_types_supported: strings(&[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            super::device::GRANT_TYPE,
        ]),
        subject_types_supported: strings(&["public"]),
        id_token_signing_alg_values_supported: strings(&["ES256", "RS256"]),
        token_endpoint_auth_methods_supported: strings(AUTH_METHODS),
        token_endpoint_auth_signing_alg_values_supported: strings(&["ES256", "RS256"]),
        introspection_endpoint_auth_methods_supported: strings(&AUTH_METHODS[..3]),
        // RFC 7009 §2.1: public clients may revoke their own tokens.
        revocation_endpoint_auth_methods_supported: strings(AUTH_METHODS),
        code_challenge_methods_supported: strings(&["S256"]),
        claims_supported: strings(&[
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "sid",
            "at_hash",
            "name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
            "unit_id",
            "unit_name",
            "roles",
        ]),
        acr_values_supported: strings(crate::acr::SUPPORTED),
        prompt_values_supported: strings(&["none", "login"]),
        ui_locales_supported: strings(&["vi", "en"]),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        authorization_response_iss_parameter_supported: true,
        end_session_endpoint: config.endpoint("/logout"),
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
        frontchannel_logout_supported: false,
        pushed_authorization_request_endpoint: Some(config.endpoint("/par")),
        require_pushed_authorization_requests: false,
        authorization_details_types_supported: strings(&[
            super::authorization_details::CREDENTIAL_TYPE,
        ]),
    }
}
