//! Claims released per scope (OIDC Core §5.4), shared by the ID token and UserInfo.

use serde_json::{Map, Value};
use tessera_store::Store;
use tessera_store::users::User;

use crate::CoreError;

/// The user's claims allowed by `scopes`, always including `sub`.
pub async fn for_scopes(
    store: &Store,
    user: &User,
    scopes: &[&str],
) -> Result<Map<String, Value>, CoreError> {
    let mut c = Map::new();
    c.insert("sub".into(), user.id.clone().into());
    if scopes.contains(&"profile") {
        c.insert("name".into(), user.display_name.clone().into());
        c.insert("preferred_username".into(), user.username.clone().into());
        c.insert("updated_at".into(), user.updated_at.into());
        // A citizen's birthdate and national id, as their upstream (VNeID) last gave them.
        if user.unit_id.as_deref() == Some(tessera_store::upstreams::CITIZENS_UNIT)
            && let Some(raw) = store.federated_claims(&user.id).await?
            && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&raw)
        {
            for (k, v) in m {
                if k == "birthdate" || k == "national_id" {
                    c.insert(k, v);
                }
            }
        }
    }
    if scopes.contains(&"email")
        && let Some(email) = &user.email
    {
        c.insert("email".into(), email.clone().into());
        // Addresses are entered by unit administrators, not verified by a mail round-trip.
        c.insert("email_verified".into(), false.into());
    }
    if scopes.contains(&"phone")
        && let Some(phone) = &user.phone
    {
        c.insert("phone_number".into(), phone.clone().into());
        c.insert("phone_number_verified".into(), false.into());
    }
    if scopes.contains(&"org") {
        if let Some(unit_id) = &user.unit_id {
            c.insert("unit_id".into(), unit_id.clone().into());
            if let Some(unit) = store.unit(unit_id).await? {
                c.insert("unit_name".into(), unit.name.into());
            }
        }
        c.insert("roles".into(), user.roles.clone().into());
    }
    Ok(c)
}
