//! RP-Initiated Logout 1.0: the URL that ends the user's session at the provider.

use url::Url;

use super::RelyingParty;
use crate::error::SdkError;

impl RelyingParty {
    /// The provider's `end_session_endpoint` (RP-Initiated Logout 1.0 §2.1), if it has one.
    pub fn end_session_endpoint(&self) -> Option<&Url> {
        self.metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|e| e.url())
    }

    /// Where to send the browser to sign the user out at the provider (§2): with the ID token
    /// received at login as `id_token_hint` (so the provider ends the session without asking),
    /// this `client_id`, and optionally a registered `post_logout_redirect_uri` to come back
    /// to, carrying `state`.
    ///
    /// The application should end its own session first; the provider then tells the other
    /// applications of the same sign-on session over the back channel.
    pub fn end_session_url(
        &self,
        id_token_hint: &str,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
    ) -> Result<Url, SdkError> {
        let mut url = self.end_session_endpoint().cloned().ok_or_else(|| {
            SdkError::Config("the provider announces no end_session_endpoint".into())
        })?;
        if let Some(uri) = post_logout_redirect_uri {
            Url::parse(uri)
                .map_err(|e| SdkError::Config(format!("post_logout_redirect_uri `{uri}`: {e}")))?;
        }
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("id_token_hint", id_token_hint);
            q.append_pair("client_id", self.client_id());
            if let Some(uri) = post_logout_redirect_uri {
                q.append_pair("post_logout_redirect_uri", uri);
            }
            if let Some(state) = state {
                q.append_pair("state", state);
            }
        }
        Ok(url)
    }
}
