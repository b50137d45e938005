// The official MCP TypeScript SDK client against a running lab's agent (/mcp, and a tenant's /t/<tenant>/mcp):
// RFC 9728 + RFC 8414 discovery, RFC 7591 registration, authorization code + PKCE (headless approval through the
// lab's login_hint), refresh, client_credentials (client_secret_basic) and private_key_jwt.
// Usage: node mcp_sdk_flows.mjs <agent base URL> <provider base URL> <tenant or "-">
// Prints one JSON line per step; any failure throws (exit code 1, the error on stderr).
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { UnauthorizedError, auth, discoverAuthorizationServerMetadata, discoverOAuthProtectedResourceMetadata } from '@modelcontextprotocol/sdk/client/auth.js'
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'

const [agentBase, providerBase, tenantArg] = process.argv.slice(2)
const tenant = tenantArg === '-' ? null : tenantArg
const mcpUrl = new URL(tenant ? `${agentBase}/t/${tenant}/mcp` : `${agentBase}/mcp`)
const issuer = tenant ? `${providerBase}/${tenant}` : providerBase
const REDIRECT = 'http://127.0.0.1:8765/callback'

const report = (step, facts = {}) => console.log(JSON.stringify({ step, ...facts }))

async function session (authProvider) {
  const client = new Client({ name: 'oauth2-lab-interop', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { authProvider }))
  const tools = (await client.listTools()).tools.map((t) => t.name).sort()
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'interop' } })
  await client.close()
  return { tools, echo_error: Boolean(echo.isError) }
}

// A browser-less OAuthClientProvider: "redirecting" the user is a GET of the authorization URL with the lab's
// login_hint (its headless approval); the code is read from the Location header, as a browser would be sent it.
class HeadlessProvider {
  constructor () { this.info = undefined; this.saved = undefined; this.verifier = undefined; this.code = undefined; this.asked = [] }
  get redirectUrl () { return REDIRECT }
  get clientMetadata () {
    return { client_name: 'oauth2-lab interop (MCP SDK)', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'api:read' }
  }
  clientInformation () { return this.info }
  saveClientInformation (info) { this.info = info }
  tokens () { return this.saved }
  saveTokens (tokens) { this.saved = tokens }
  saveCodeVerifier (v) { this.verifier = v }
  codeVerifier () { return this.verifier }
  async redirectToAuthorization (url) {
    this.asked.push(url.toString())
    url.searchParams.set('login_hint', 'alice')
    const response = await fetch(url, { redirect: 'manual' })
    const location = new URL(response.headers.get('location'))
    if (location.searchParams.get('error')) throw new Error(`authorization refused: ${location.search}`)
    this.callback = location
    this.code = location.searchParams.get('code')
  }
}

// discovery without a WWW-Authenticate hint: RFC 9728 §3.1 and RFC 8414 §3.1 well-known URLs, path inserted
const fetched = []
const recording = async (url, init) => {
  const response = await fetch(url, init)
  fetched.push(`${response.status} ${new URL(url).pathname}`)
  return response
}
const prm = await discoverOAuthProtectedResourceMetadata(mcpUrl, {}, recording)
const asMeta = await discoverAuthorizationServerMetadata(prm.authorization_servers[0], { fetchFn: recording })
report('discovery', { resource: prm.resource, authorization_servers: prm.authorization_servers, issuer: asMeta.issuer, fetched })

// authorization code + PKCE with dynamic registration
const user = new HeadlessProvider()
let unauthorized = false
try {
  await session(user)
} catch (err) {
  if (!(err instanceof UnauthorizedError)) throw err
  unauthorized = true
}
const authorizeUrl = new URL(user.asked[0])
const transport = new StreamableHTTPClientTransport(mcpUrl, { authProvider: user })
await transport.finishAuth(user.code)
const first = user.tokens()
const asUser = await session(user)
report('authorization_code', {
  first_call_unauthorized: unauthorized, registered: Boolean(user.info?.client_id), public_client: !user.info?.client_secret,
  authorize_endpoint: `${authorizeUrl.origin}${authorizeUrl.pathname}`, resource: authorizeUrl.searchParams.get('resource'),
  pkce: authorizeUrl.searchParams.get('code_challenge_method'), iss: user.callback.searchParams.get('iss'),
  scope: first.scope, has_refresh: Boolean(first.refresh_token), ...asUser
})

// refresh: auth() with a refresh token in hand refreshes (and the provider rotates it)
const result = await auth(user, { serverUrl: mcpUrl })
const second = user.tokens()
report('refresh', { result, new_access: second.access_token !== first.access_token,
  rotated: Boolean(second.refresh_token) && second.refresh_token !== first.refresh_token, ...(await session(user)) })

// client_credentials (client_secret_basic), credentials presented only to the issuer they belong to
const machine = new ClientCredentialsProvider({ clientId: 'lab-client', clientSecret: 'lab-client-secret', scope: 'api:read',
  expectedIssuer: issuer })
report('client_credentials', await session(machine))

// private_key_jwt: a client registered with its public key (RFC 7591), then client_credentials signed (RFC 7523)
const { privateKey, publicKey } = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
const publicJwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'mcp-interop', alg: 'ES256', use: 'sig' }
const registration = await fetch(`${issuer}/register`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'api:read', token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] } })
})
if (registration.status !== 201) throw new Error(`registration: ${registration.status} ${await registration.text()}`)
const { client_id: signerId } = await registration.json()
const signer = new PrivateKeyJwtProvider({ clientId: signerId, privateKey: { ...(await crypto.subtle.exportKey('jwk', privateKey)), kid: 'mcp-interop' },
  algorithm: 'ES256', scope: 'api:read', expectedIssuer: issuer })
report('private_key_jwt', await session(signer))
