// oauth4webapi (a certified OAuth 2.0 / OIDC client library) against the lab's provider, one tenant.
// Usage: node oauth4webapi_flows.mjs <provider base URL> <tenant>
// Prints one JSON line per step ({"step": ..., ...facts}); any failure throws (exit code 1, the error on stderr).
import * as oauth from 'oauth4webapi'

const [base, tenant] = process.argv.slice(2)
const issuer = new URL(`${base}/${tenant}`)
const insecure = { [oauth.allowInsecureRequests]: true } // loopback http: the lab serves no TLS
const REDIRECT = 'http://127.0.0.1:8765/callback'
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'
const AUDIENCE = 'api://oauth2-lab-agent'

const report = (step, facts = {}) => console.log(JSON.stringify({ step, ...facts }))

async function expectError (promise, code) {
  try {
    await promise
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError && err.error === code) return err
    throw err
  }
  throw new Error(`expected the error ${code}`)
}

// RFC 8414 §3.1 (the suffix inserted after the host) and OIDC Discovery §4 (appended): the same issuer
const as = await oauth.processDiscoveryResponse(issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }))
const oidc = await oauth.processDiscoveryResponse(issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }))
report('discovery', { issuer: as.issuer, oidc_issuer: oidc.issuer, iss_parameter: as.authorization_response_iss_parameter_supported })

// client_secret_basic and client_secret_post: client credentials, then RFC 9068 validation of the access token
const labClient = { client_id: 'lab-client' }
for (const [name, auth] of [['client_secret_basic', oauth.ClientSecretBasic('lab-client-secret')],
  ['client_secret_post', oauth.ClientSecretPost('lab-client-secret')]]) {
  const answer = await oauth.processClientCredentialsResponse(as, labClient,
    await oauth.clientCredentialsGrantRequest(as, labClient, auth, { scope: 'api:read' }, insecure))
  const request = new Request('http://127.0.0.1/resource', { headers: { authorization: `Bearer ${answer.access_token}` } })
  const claims = await oauth.validateJwtAccessToken(as, request, AUDIENCE, insecure)
  report(name, { token_type: answer.token_type, sub: claims.sub, client_id: claims.client_id, iss: claims.iss })
}

// authorization code + PKCE + OIDC, headless (the lab's login_hint approves); RFC 9207 iss checked by the library
const web = { client_id: 'lab-web' }
const webAuth = oauth.ClientSecretBasic('lab-web-secret')
const verifier = oauth.generateRandomCodeVerifier()
const state = oauth.generateRandomState()
const nonce = oauth.generateRandomNonce()
const url = new URL(as.authorization_endpoint)
for (const [k, v] of Object.entries({
  response_type: 'code', client_id: web.client_id, redirect_uri: REDIRECT, scope: 'openid email api:read',
  state, nonce, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  login_hint: 'alice'
})) url.searchParams.set(k, v)
const redirect = await fetch(url, { redirect: 'manual' })
const callback = new URL(redirect.headers.get('location'))
const params = oauth.validateAuthResponse(as, web, callback, state)
// a response naming another issuer is refused (RFC 9207 §2.4: mix-up defence)
const forged = new URL(callback)
forged.searchParams.set('iss', `${base}/someone-else`)
let mixUpRefused = false
try { oauth.validateAuthResponse(as, web, forged, state) } catch { mixUpRefused = true }
const tokens = await oauth.processAuthorizationCodeResponse(as, web,
  await oauth.authorizationCodeGrantRequest(as, web, webAuth, params, REDIRECT, verifier, insecure),
  { expectedNonce: nonce, requireIdToken: true })
const idToken = oauth.getValidatedIdTokenClaims(tokens)
const userRequest = new Request('http://127.0.0.1/resource', { headers: { authorization: `Bearer ${tokens.access_token}` } })
const userClaims = await oauth.validateJwtAccessToken(as, userRequest, AUDIENCE, insecure)
report('authorization_code', {
  iss_checked: callback.searchParams.get('iss'), mix_up_refused: mixUpRefused, id_token_sub: idToken.sub,
  id_token_aud: idToken.aud, id_token_nonce: idToken.nonce, id_token_auth_time: idToken.auth_time, access_sub: userClaims.sub,
  has_refresh: typeof tokens.refresh_token === 'string'
})

// refresh rotation: a new refresh token each time; the old one, replayed, is refused (and the family revoked)
const refreshed = await oauth.processRefreshTokenResponse(as, web,
  await oauth.refreshTokenGrantRequest(as, web, webAuth, tokens.refresh_token, insecure))
const replay = await expectError(oauth.processRefreshTokenResponse(as, web,
  await oauth.refreshTokenGrantRequest(as, web, webAuth, tokens.refresh_token, insecure)), 'invalid_grant')
report('refresh', {
  rotated: refreshed.refresh_token !== tokens.refresh_token, id_token_sub: oauth.getValidatedIdTokenClaims(refreshed)?.sub,
  replay_error: replay.error
})

// introspection and revocation (RFC 7662, RFC 7009)
async function signIn (user, scope) {
  const v = oauth.generateRandomCodeVerifier()
  const u = new URL(as.authorization_endpoint)
  for (const [k, val] of Object.entries({
    response_type: 'code', client_id: web.client_id, redirect_uri: REDIRECT, scope, state,
    code_challenge: await oauth.calculatePKCECodeChallenge(v), code_challenge_method: 'S256', login_hint: user
  })) u.searchParams.set(k, val)
  const cb = new URL((await fetch(u, { redirect: 'manual' })).headers.get('location'))
  return oauth.processAuthorizationCodeResponse(as, web, await oauth.authorizationCodeGrantRequest(
    as, web, webAuth, oauth.validateAuthResponse(as, web, cb, state), REDIRECT, v, insecure))
}
const fresh = await signIn('bob', 'api:read')
const before = await oauth.processIntrospectionResponse(as, web,
  await oauth.introspectionRequest(as, web, webAuth, fresh.access_token, insecure))
await oauth.processRevocationResponse(await oauth.revocationRequest(as, web, webAuth, fresh.refresh_token, insecure))
const after = await oauth.processIntrospectionResponse(as, web,
  await oauth.introspectionRequest(as, web, webAuth, fresh.refresh_token, insecure))
report('introspection_revocation', { active_before: before.active, sub: before.sub, active_after_revocation: after.active })

// token exchange (RFC 8693): the agent's client exchanges alice's token for the downstream API
const agent = { client_id: 'lab-agent' }
const exchanged = await oauth.processGenericTokenEndpointResponse(as, agent,
  await oauth.genericTokenEndpointRequest(as, agent, oauth.ClientSecretBasic('lab-agent-secret'), TOKEN_EXCHANGE, {
    subject_token: (await signIn('alice', 'api:read')).access_token, subject_token_type: ACCESS, resource: 'api://oauth2-lab-downstream'
  }, insecure))
const exchangedClaims = await oauth.validateJwtAccessToken(as,
  new Request('http://127.0.0.1/downstream', { headers: { authorization: `Bearer ${exchanged.access_token}` } }),
  'api://oauth2-lab-downstream', insecure)
report('token_exchange', { issued_token_type: exchanged.issued_token_type, sub: exchangedClaims.sub, act: exchangedClaims.act })

// private_key_jwt (RFC 7523 §2.2): a client registered (RFC 7591) with its public key signs its assertions
const { privateKey, publicKey } = await oauth.generateKeyPair('ES256', { extractable: true })
const jwk = await crypto.subtle.exportKey('jwk', publicKey)
const registration = await fetch(as.registration_endpoint, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ grant_types: ['client_credentials'], scope: 'api:read', token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ ...jwk, kid: 'interop-1', alg: 'ES256', use: 'sig' }] } })
})
if (registration.status !== 201) throw new Error(`registration: ${registration.status} ${await registration.text()}`)
const signer = { client_id: (await registration.json()).client_id }
const signerAuth = oauth.PrivateKeyJwt({ key: privateKey, kid: 'interop-1' })
const signed = await oauth.processClientCredentialsResponse(as, signer,
  await oauth.clientCredentialsGrantRequest(as, signer, signerAuth, { scope: 'api:read' }, insecure))
const own = await oauth.processIntrospectionResponse(as, signer,
  await oauth.introspectionRequest(as, signer, signerAuth, signed.access_token, insecure))
report('private_key_jwt', { token_type: signed.token_type, active: own.active, client_id: own.client_id })

// DPoP (RFC 9449) with server nonces: the first proof is answered use_dpop_nonce, the retry carries the nonce
const dpop = oauth.DPoP(labClient, await oauth.generateKeyPair('ES256'))
const dpopRequest = () => oauth.clientCredentialsGrantRequest(as, labClient, oauth.ClientSecretBasic('lab-client-secret'),
  { scope: 'api:read' }, { DPoP: dpop, ...insecure })
let nonceAsked = false
let bound
try {
  bound = await oauth.processClientCredentialsResponse(as, labClient, await dpopRequest())
} catch (err) {
  if (!oauth.isDPoPNonceError(err)) throw err
  nonceAsked = true
  bound = await oauth.processClientCredentialsResponse(as, labClient, await dpopRequest())
}
let captured
await oauth.protectedResourceRequest(bound.access_token, 'GET', new URL('http://127.0.0.1/resource'), undefined, undefined, {
  ...insecure, DPoP: dpop, [oauth.customFetch]: async (input, init) => { captured = new Request(input, init); return new Response('{}') }
})
const boundClaims = await oauth.validateJwtAccessToken(as, captured, AUDIENCE, { requireDPoP: true, ...insecure })
report('dpop', { token_type: bound.token_type, nonce_asked: nonceAsked, jkt: boundClaims.cnf?.jkt ?? null })
