//! The usual world of a scenario: one server, a unit, a user in it, a confidential client.

use tessera_sdk::{AuthOptions, LoginResult, RelyingParty};

use crate::backend::Backend;
use crate::browser::Browser;
use crate::cli::{NewClient, NewUser, RegisteredClient};
use crate::receiver::LogoutReceiver;
use crate::server::{ServerOptions, TestServer};

/// The password of the fixture user (at least 10 characters, as the server requires).
pub const PASSWORD: &str = "mat-khau-an-toan-2024";
pub const USERNAME: &str = "an.nv";
pub const FULL_NAME: &str = "Nguyễn Văn An";
pub const EMAIL: &str = "an.nv@noivu.danang.gov.vn";
pub const UNIT_NAME: &str = "Sở Nội vụ";
pub const ROLES: [&str; 2] = ["chuyen_vien", "van_thu"];

#[derive(Debug)]
pub struct Fixture {
    pub server: TestServer,
    pub unit_id: String,
    pub user_id: String,
    /// Confidential client `vanban` ("Quản lý văn bản"), ES256 ID tokens.
    pub client: RegisteredClient,
}

impl Fixture {
    pub async fn start(backend: Backend) -> anyhow::Result<Self> {
        Self::start_with(backend, ServerOptions::default()).await
    }

    pub async fn start_with(backend: Backend, options: ServerOptions) -> anyhow::Result<Self> {
        let server = TestServer::start_with(backend, options).await?;
        let unit_id = server.add_unit(UNIT_NAME, None).await?;
        let mut user = NewUser::new(USERNAME, FULL_NAME, PASSWORD);
        user.email = Some(EMAIL.into());
        user.unit = Some(unit_id.clone());
        user.roles = ROLES.iter().map(|r| (*r).to_owned()).collect();
        let user_id = server.add_user(&user).await?;
        let client = server
            .add_client(&NewClient::confidential("vanban", "Quản lý văn bản"))
            .await?;
        Ok(Self {
            server,
            unit_id,
            user_id,
            client,
        })
    }

    /// A fresh browser profile (no cookies).
    pub fn browser(&self) -> anyhow::Result<Browser> {
        Browser::new()
    }

    /// The SDK as the `vanban` application.
    pub async fn rp(&self) -> anyhow::Result<RelyingParty> {
        crate::flow::relying_party(&self.server, &self.client).await
    }

    /// Signs the fixture user in to a client `id` per path of `receiver` (one password prompt, SSO
    /// for the rest); returns each login.
    pub async fn sign_in_with_backchannel(
        &self,
        receiver: &LogoutReceiver,
        ids: &[&str],
    ) -> anyhow::Result<(Browser, Vec<LoginResult>)> {
        let browser = self.browser()?;
        let mut logins = Vec::new();
        for id in ids {
            let client = self
                .add_client(
                    NewClient::confidential(id, &format!("Ứng dụng {id}"))
                        .backchannel_logout_uri(&receiver.url(&format!("/{id}/bcl"))),
                )
                .await?;
            let rp = crate::flow::relying_party(&self.server, &client).await?;
            let login = if logins.is_empty() {
                crate::flow::sdk_login(&browser, &self.server, &rp, &[], USERNAME, PASSWORD).await?
            } else {
                let (url, pending) = rp.authorization_url(&[], &AuthOptions::default());
                let cb = crate::flow::authorize_silently(&browser, &url).await?;
                rp.exchange_code(&pending, &cb.code()?, &pending.state)
                    .await?
            };
            logins.push(login);
        }
        Ok((browser, logins))
    }

    /// Registers another client on the same server.
    pub async fn add_client(&self, client: NewClient) -> anyhow::Result<RegisteredClient> {
        self.server.add_client(&client).await
    }
}
