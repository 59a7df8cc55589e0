//! `openidconnect` type instantiations used internally by the SDK.
//!
//! The crate's `Core*` aliases use `EmptyAdditionalClaims`; Tessera ID tokens also carry
//! `sid` (OpenID Connect Front-Channel Logout 1.0 §3 / Back-Channel Logout 1.0 §2.1), so
//! the client is instantiated with [`SessionClaims`] instead.

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRevocableToken,
    CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, Client, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    IdToken, IdTokenClaims, IdTokenFields, IdTokenVerifier, StandardErrorResponse,
    StandardTokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};

/// ID-token claims that `openidconnect` does not model itself.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct SessionClaims {
    /// Session ID (Front-Channel Logout 1.0 §3, Back-Channel Logout 1.0 §2.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Tessera's roles of the user (scope `org`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The user's unit (scope `org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_name: Option<String>,
}
impl AdditionalClaims for SessionClaims {}

/// Every UserInfo claim that is not a standard claim (OIDC Core §5.1), kept verbatim.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct OtherClaims {
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

pub(crate) type IdTokenFieldsT = IdTokenFields<
    SessionClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

pub(crate) type TokenResponseT = StandardTokenResponse<IdTokenFieldsT, CoreTokenType>;

pub(crate) type IdTokenT = IdToken<
    SessionClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

pub(crate) type IdTokenClaimsT = IdTokenClaims<SessionClaims, CoreGenderClaim>;

pub(crate) type VerifierT = IdTokenVerifier<'static, CoreJsonWebKey>;

pub(crate) type UserInfoClaimsT = UserInfoClaims<OtherClaims, CoreGenderClaim>;

/// The client as built by `Client::from_provider_metadata`: authorization endpoint set,
/// token and UserInfo endpoints "maybe" set (they are optional in Discovery §3).
pub(crate) type ClientT = Client<
    SessionClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponseT,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;
