//! Wire types of the administration API (`/admin/api/…`): the answers of each endpoint, shared
//! by the server, the administration console, the SDK and the tests.
//!
//! Member names are the JSON members; `Option` members are always present (`null` when unset),
//! as consoles written before these types expect.

use serde::{Deserialize, Serialize};

/// An administrative role held over a unit and the units below it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Grant {
    /// `admin`, `cert_admin` or `auditor`.
    pub role: String,
    pub unit_id: String,
}

/// `GET /admin/api/me`: the caller's identity and rights.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user_id: String,
    pub username: String,
    /// The administration console the access token was issued to.
    pub client_id: String,
    pub grants: Vec<Grant>,
}

/// An organisation unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unit {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub level: String,
    pub created_at: i64,
}

/// A unit with the units below it (`GET /admin/api/units`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitNode {
    /// Absent only for a unit created after the caller's request began.
    #[serde(flatten)]
    pub unit: Option<Unit>,
    /// Absent below the depth bound that guards against a corrupt tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // The schema refers to itself here rather than unfolding without end.
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub children: Option<Vec<UnitNode>>,
}

/// `GET /admin/api/units`: trees from the top of each of the caller's scopes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitTree {
    pub units: Vec<UnitNode>,
}

/// `GET /admin/api/units/{id}`: a unit and the ids of the units right below it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitDetail {
    #[serde(flatten)]
    pub unit: Unit,
    pub children: Vec<String>,
}

/// A user account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    /// Display name.
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub unit_id: Option<String>,
    /// Application roles (claims for relying parties, not administrative grants).
    pub roles: Vec<String>,
    /// `active` or `disabled`.
    pub status: String,
    pub password_must_change: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `GET /admin/api/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    pub users: Vec<User>,
    pub limit: i64,
    pub offset: i64,
}

/// Wrong second-factor codes counted and, at the limit, until when the factor is locked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactorLock {
    pub failures: i64,
    pub locked_until: Option<i64>,
}

/// `GET /admin/api/users/{id}`: the account, its grants the caller can see, and its lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub grants: Vec<Grant>,
    pub second_factor_lock: Option<SecondFactorLock>,
}

/// `POST /admin/api/users`: the new account with its temporary password, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    #[serde(flatten)]
    pub user: User,
    pub temporary_password: String,
}

/// `POST /admin/api/users/{id}/password`: the new temporary password, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    pub id: String,
    pub username: String,
    pub temporary_password: String,
}

/// `POST /admin/api/users/{id}/unlock`: which failure counts were cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unlocked {
    pub id: String,
    pub username: String,
    pub second_factor_cleared: bool,
    pub password_cleared: bool,
}

/// `GET /admin/api/users/{id}/grants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantList {
    pub grants: Vec<Grant>,
}

/// `POST /admin/api/users/{id}/grants`: the grant recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RoleGrant {
    pub user_id: String,
    pub role: String,
    pub unit_id: String,
    /// User id of the administrator who granted it, or `cli:<os user>`.
    pub granted_by: String,
    pub granted_at: i64,
}

/// A client application's registration (never its secret or keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub unit_id: Option<String>,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    pub auth_method: String,
    /// ID token signing algorithm.
    pub alg: String,
    pub min_acr: Option<String>,
    pub admin_console: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `GET /admin/api/clients`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientList {
    pub clients: Vec<Client>,
}

/// `POST /admin/api/clients`: the registration and, for a client using a shared secret, that
/// secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewClient {
    #[serde(flatten)]
    pub client: Client,
    pub client_secret: Option<String>,
}

/// `PATCH /admin/api/clients/{id}`: the registration, or only where it went when the change
/// moved it out of the caller's sight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum ClientUpdated {
    Visible(Box<Client>),
    MovedAway {
        client_id: String,
        unit_id: Option<String>,
    },
}

/// `POST /admin/api/clients/{id}/secret`: the new secret, shown once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientSecret {
    pub client_id: String,
    pub client_secret: String,
}

/// `GET|PUT /admin/api/clients/{id}/signing-units[/{unit}]`: the units whose people the client
/// may ask for signatures with its own token (scope `sign:request`), among those the caller
/// can see. Each covers the units below it too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningUnits {
    pub client_id: String,
    pub unit_ids: Vec<String>,
}

/// The owner of a credential, as a credential shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Owner {
    pub id: String,
    pub username: String,
    pub name: String,
    pub unit_id: Option<String>,
}

/// A signing credential's record (never its key reference).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credential {
    pub id: String,
    pub user: Owner,
    /// `pending`, `active`, `suspended`, `revoked` or `expired`.
    pub status: String,
    pub source: String,
    pub ca_id: Option<String>,
    pub key_alg: String,
    pub key_backend: String,
    pub serial: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub revocation_reason: Option<String>,
    pub revoked_at: Option<i64>,
    pub suspended_at: Option<i64>,
    pub renewed_from: Option<String>,
    pub expiry_notified_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A credential with its CSR, certificate and chain (PEM, the issuing CA first).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialDetail {
    #[serde(flatten)]
    pub credential: Credential,
    pub csr_pem: String,
    pub certificate_pem: Option<String>,
    pub chain_pem: Vec<String>,
}

/// `GET /admin/api/credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialList {
    pub credentials: Vec<Credential>,
    pub limit: i64,
    pub offset: i64,
}

/// A certificate that expires within the notice window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiryNotice {
    pub credential_id: String,
    pub user: Owner,
    pub serial: Option<String>,
    pub subject: Option<String>,
    pub not_after: i64,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    pub expired: bool,
    pub notified_at: Option<i64>,
}

/// `GET /admin/api/credentials/expiring`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiryNotices {
    pub days: i64,
    pub now: i64,
    pub notices: Vec<ExpiryNotice>,
}

/// Every refusal: `error` is `unauthorized`, `invalid_token`, `insufficient_scope`,
/// `forbidden`, `out_of_scope`, `not_found`, `invalid_request`, `conflict`,
/// `method_not_allowed` or `server_error`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiError {
    pub error: String,
    pub error_description: String,
}

/// An organisation credential ("chữ ký số của cơ quan, tổ chức"): owned by a unit, subject
/// `O=<organisation>, OU=<unit>, C=VN`, signing for the clients the unit allowed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganisationCredential {
    pub id: String,
    pub unit_id: String,
    /// `pending`, `active`, `suspended`, `revoked` or `expired`.
    pub status: String,
    pub key_alg: String,
    pub serial: Option<String>,
    pub issuer: Option<String>,
    pub subject: Option<String>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    pub certificate_pem: Option<String>,
    /// The issuing CA first.
    pub chain_pem: Vec<String>,
    /// Ids of the clients allowed to sign with it.
    pub allowed_clients: Vec<String>,
    pub created_at: i64,
}

/// `GET /admin/api/units/{id}/organisation-credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganisationCredentialList {
    pub credentials: Vec<OrganisationCredential>,
}

/// A client allowed to sign with an organisation credential.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowedClient {
    pub credential_id: String,
    pub client_id: String,
    pub allowed_by: String,
    pub created_at: i64,
}

/// An official's signature image or a unit's seal image (PNG), without its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SigningImage {
    /// `signature` (owner: a user) or `seal` (owner: a unit).
    pub kind: String,
    pub owner_id: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

// Request bodies. Unknown members are refused (`invalid_request`), so a misspelt member is an
// error rather than silently ignored.

/// `Some(None)` for an explicit `null`, `None` when the member is absent (the `PATCH` bodies:
/// absent members stay as they are; `null` clears).
pub fn nullable_field<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /admin/api/units`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUnit {
    pub name: String,
    /// Units are created below a unit of the caller's scope; top-level units only with the
    /// command line.
    pub parent_id: String,
}

/// `PATCH /admin/api/units/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitPatch {
    pub name: String,
}

/// `POST /admin/api/units/{id}/level`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LevelBody {
    /// The level every login of the unit's people must reach (`urn:tessera:loa:2`).
    pub min_acr: String,
}

/// `POST /admin/api/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUserBody {
    pub username: String,
    /// Display name.
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Required unless the caller administers the root of the unit tree.
    pub unit_id: Option<String>,
    /// Application roles.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `PATCH /admin/api/users/{id}`: absent members stay as they are; `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable_field",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable_field",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "nullable_field",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub unit_id: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

/// `POST /admin/api/users/{id}/grants`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantBody {
    /// `admin`, `cert_admin` or `auditor`.
    pub role: String,
    pub unit_id: String,
}

/// `POST /admin/api/clients`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewClientBody {
    pub client_id: String,
    pub name: String,
    /// Required unless the caller administers the root of the unit tree.
    pub unit_id: Option<String>,
    /// A public client (no secret; PKCE required).
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// Signing algorithm of its ID tokens (`ES256` or `RS256`).
    pub alg: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    /// The client's public keys (RFC 7517 JWK Set), for `private_key_jwt`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub jwks: Option<serde_json::Value>,
    pub jwks_uri: Option<String>,
    pub refresh_idle_ttl: Option<i64>,
    pub refresh_absolute_ttl: Option<i64>,
    /// Minimum level of assurance of every login to this client.
    pub min_acr: Option<String>,
}

/// `PATCH /admin/api/clients/{id}`: absent members stay as they are; `null` clears.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "nullable_field",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub backchannel_logout_uri: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "nullable_field",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub unit_id: Option<Option<String>>,
}

/// Where the certificate of a new credential comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CaChoice {
    /// Tessera's issuing CA, at once.
    #[default]
    Internal,
    /// Another CA: the answer carries the CSR, and the certificate is imported later.
    External,
}

/// `POST /admin/api/credentials`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewCredentialBody {
    pub user_id: String,
    /// `P-256` (default), `RSA-2048` or `RSA-3072`.
    pub alg: Option<String>,
    /// The official's title (chức vụ), recorded on the user and put in the subject.
    pub title: Option<String>,
    #[serde(default)]
    pub ca: CaChoice,
}

/// `POST /admin/api/credentials/{id}/renew` (the body may be left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RenewBody {
    /// A new key (default: a new certificate for the same key).
    #[serde(default)]
    pub new_key: bool,
}

/// A revocation reason by its RFC 5280 §5.3.1 name (`keyCompromise`) or `CRLReason` code (1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReasonValue {
    Code(u32),
    Name(String),
}

/// `POST /admin/api/units/{id}/organisation-credentials` (the body may be left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewOrganisationCredentialBody {
    /// `P-256` (default), `RSA-2048` or `RSA-3072`.
    pub alg: Option<String>,
}

/// `POST /admin/api/organisation-credentials/{id}/clients`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AllowClientBody {
    pub client_id: String,
}

/// `POST /admin/api/credentials/{id}/revoke` (the body may be left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevokeBody {
    /// Default: unspecified.
    pub reason: Option<ReasonValue>,
}
