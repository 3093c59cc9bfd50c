// An OpenID4VCI wallet on the published oid4vc-ts packages: it takes a credential offer
// with a pre-authorized code, collects the one SD-JWT VC it offers and writes it, with the
// holder key it is bound to, as one JSON outcome to stdout.
//
// Job (stdin): {credential_offer: "openid-credential-offer://?credential_offer_uri=..",
//               tx_code: "" | "<digits>"}
// Outcome: {stage: "issued", credential, holder_private_jwk, credential_configuration_id,
//           token_type, dpop_key_thumbprint} or {stage: "<where it stopped>", error: "<message>"}.

import { createHash, randomBytes } from 'node:crypto';
import { clientAuthenticationAnonymous, setGlobalConfig } from '@openid4vc/oauth2';
import { Openid4vciClient } from '@openid4vc/openid4vci';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';

// The issuer under test listens on loopback over plain HTTP.
setGlobalConfig({ allowInsecureUrls: true });

async function readJob() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function newKey() {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: await exportJWK(publicKey) };
}

// `keys`: the holder key the credential is bound to and the DPoP key of the access token.
function callbacks(keys) {
  return {
    fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) }),
    hash: (data, alg) => new Uint8Array(createHash(alg.replace('-', '').toLowerCase()).update(data).digest()),
    generateRandom: (length) => new Uint8Array(randomBytes(length)),
    clientAuthentication: clientAuthenticationAnonymous(),
    signJwt: async (signer, jwt) => {
      if (signer.method !== 'jwk') throw new Error(`cannot sign as ${signer.method}`);
      const key = keys.find((candidate) => candidate.publicJwk.x === signer.publicJwk.x);
      if (!key) throw new Error('asked to sign with a key this wallet does not have');
      const token = await new SignJWT(jwt.payload).setProtectedHeader(jwt.header).sign(key.privateKey);
      return { jwt: token, signerJwk: key.publicJwk };
    },
  };
}

async function collect(job) {
  const holderKey = await newKey();
  const dpopKey = await newKey();
  const client = new Openid4vciClient({ callbacks: callbacks([holderKey, dpopKey]) });
  let stage = 'offer';
  try {
    const offer = await client.resolveCredentialOffer(job.credential_offer);
    stage = 'metadata';
    const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer);
    const [configurationId] = offer.credential_configuration_ids;
    const configuration =
      issuerMetadata.credentialIssuer.credential_configurations_supported[configurationId];
    if (!configuration) throw new Error(`the issuer does not describe ${configurationId}`);

    stage = 'token';
    // The issuer's authorization server advertises DPoP (RFC 9449): the token is bound to it.
    const { accessTokenResponse, dpop } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      txCode: job.tx_code || undefined,
      dpop: { signer: { method: 'jwk', publicJwk: dpopKey.publicJwk, alg: 'ES256' } },
    });

    stage = 'nonce';
    const nonce = issuerMetadata.credentialIssuer.nonce_endpoint
      ? (await client.requestNonce({ issuerMetadata })).c_nonce
      : accessTokenResponse.c_nonce;

    stage = 'proof';
    const { jwt } = await client.createCredentialRequestJwtProof({
      issuerMetadata,
      credentialConfigurationId: configurationId,
      signer: { method: 'jwk', publicJwk: holderKey.publicJwk, alg: 'ES256' },
      nonce,
    });

    stage = 'credential';
    const { credentialResponse } = await client.retrieveCredentials({
      issuerMetadata,
      accessToken: accessTokenResponse.access_token,
      credentialConfigurationId: configurationId,
      proofs: { jwt: [jwt] },
      dpop,
    });
    const [issued] = credentialResponse.credentials ?? [];
    if (!issued) throw new Error(`no credential in ${JSON.stringify(credentialResponse)}`);
    return {
      stage: 'issued',
      credential: issued.credential,
      holder_private_jwk: await exportJWK(holderKey.privateKey),
      credential_configuration_id: configurationId,
      format: configuration.format,
      token_type: accessTokenResponse.token_type,
      dpop_key_thumbprint: await calculateJwkThumbprint(dpopKey.publicJwk),
    };
  } catch (error) {
    const detail = error?.errorResponse ?? error?.message ?? String(error);
    return { stage, error: typeof detail === 'string' ? detail : JSON.stringify(detail) };
  }
}

const outcome = await collect(await readJob());
process.stdout.write(`${JSON.stringify(outcome)}\n`);
