//! The usual world of a scenario: one server, a unit, a user in it, a confidential client.

use tessera_sdk::RelyingParty;

use crate::backend::Backend;
use crate::browser::Browser;
use crate::cli::{NewClient, NewUser, RegisteredClient};
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

    /// Registers another client on the same server.
    pub async fn add_client(&self, client: NewClient) -> anyhow::Result<RegisteredClient> {
        self.server.add_client(&client).await
    }
}
