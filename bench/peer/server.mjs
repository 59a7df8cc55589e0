// panva oidc-provider as bench-tokens' peer: the in-memory adapter (its default), opaque
// access tokens, client credentials and introspection enabled, one confidential client.
// Usage: node server.mjs <port> <client_id> <client_secret>; prints "ready" once listening.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret] = process.argv.slice(2);
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'lgsp.read',
  }],
  scopes: ['lgsp.read'],
  ttl: { ClientCredentials: 3600 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // The same rule as Tessera's: a client learns about its own tokens only.
    introspection: {
      enabled: true,
      allowedPolicy: async (ctx, client, token) => token.clientId === client.clientId,
    },
  },
});
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
