// An OpenID4VP wallet built on independent published libraries (oid4vc-ts, @sd-jwt, jose),
// used to check that the verifier interoperates with them. It reads one JSON job from
// stdin, answers the authorization request it names and writes one JSON outcome to stdout.
//
// Job: {
//   authorization_request_uri: "openid4vp://?client_id=..&request_uri=..",
//   credential: "<issuer-signed SD-JWT VC>~<disclosure>~...~",
//   holder_private_jwk: {kty, crv, x, y, d},
//   trusted_certificates_pem: ["-----BEGIN CERTIFICATE-----..."],
//   tamper: "" | "ciphertext" | "key_binding" | "key_binding_spelling"
// The wallet verifies the held credential (issuer signature, status) before presenting it.
// }
// Outcome: {stage: "submitted", status, body, client_id, disclosed, issued_claims} or
//          {stage: "<where it stopped>", error: "<message>"}.

import { X509Certificate, createHash, randomBytes } from 'node:crypto';
import { setGlobalConfig } from '@openid4vc/oauth2';
import { Openid4vpClient } from '@openid4vc/openid4vp';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { CompactEncrypt, compactVerify, decodeProtectedHeader, importJWK, importX509 } from 'jose';

// The verifier under test listens on loopback over plain HTTP.
setGlobalConfig({ allowInsecureUrls: true });

async function readJob() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function derToPem(base64Der) {
  const lines = base64Der.match(/.{1,64}/g).join('\n');
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
}

// The x5c chain must end at (or be issued by) one of the certificates the wallet trusts.
function assertChainTrusted(x5c, trusted) {
  const chain = x5c.map((entry) => new X509Certificate(Buffer.from(entry, 'base64')));
  const now = new Date();
  for (const certificate of chain) {
    if (new Date(certificate.validFrom) > now || new Date(certificate.validTo) < now) {
      throw new Error(`certificate ${certificate.subject} is not valid now`);
    }
  }
  for (let index = 0; index + 1 < chain.length; index += 1) {
    const child = chain[index];
    const parent = chain[index + 1];
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new Error(`certificate ${child.subject} is not issued by ${parent.subject}`);
    }
  }
  const last = chain[chain.length - 1];
  const anchored = trusted.some(
    (anchor) =>
      anchor.fingerprint256 === last.fingerprint256 ||
      (last.checkIssued(anchor) && last.verify(anchor.publicKey)),
  );
  if (!anchored) throw new Error('the x5c chain does not lead to a trusted certificate');
}

function sanNames(base64Der) {
  const certificate = new X509Certificate(Buffer.from(base64Der, 'base64'));
  const names = (certificate.subjectAltName ?? '').split(/,\s*/).filter(Boolean);
  const pick = (prefix) =>
    names.filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length));
  return { sanDnsNames: pick('DNS:'), sanUriNames: pick('URI:') };
}

function callbacks(trusted) {
  return {
    fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) }),
    hash: (data, alg) => new Uint8Array(createHash(alg.replace('-', '').toLowerCase()).update(data).digest()),
    generateRandom: (length) => new Uint8Array(randomBytes(length)),
    getX509CertificateMetadata: sanNames,
    verifyJwt: async (signer, jwt) => {
      if (signer.method !== 'x5c') return { verified: false };
      assertChainTrusted(signer.x5c, trusted);
      const key = await importX509(derToPem(signer.x5c[0]), signer.alg);
      try {
        await compactVerify(jwt.compact, key, { algorithms: [signer.alg] });
      } catch {
        return { verified: false };
      }
      const leaf = new X509Certificate(Buffer.from(signer.x5c[0], 'base64'));
      return { verified: true, signerJwk: leaf.publicKey.export({ format: 'jwk' }) };
    },
    encryptJwe: async (encryptor, data) => {
      const key = await importJWK(encryptor.publicJwk, encryptor.alg);
      const header = { alg: encryptor.alg, enc: encryptor.enc };
      if (encryptor.publicJwk.kid) header.kid = encryptor.publicJwk.kid;
      if (encryptor.apu) header.apu = encryptor.apu;
      if (encryptor.apv) header.apv = encryptor.apv;
      const jwe = await new CompactEncrypt(new TextEncoder().encode(data))
        .setProtectedHeader(header)
        .encrypt(key);
      return { jwe, encryptionJwk: encryptor.publicJwk };
    },
    signJwt: () => {
      throw new Error('this wallet does not sign authorization responses');
    },
    decryptJwe: () => {
      throw new Error('this wallet does not take encrypted requests');
    },
  };
}

// SD-JWT VC section 5: the issuer's JWT VC Issuer Metadata sits at the well-known path
// inserted between the host and the path of `iss`.
async function issuerMetadataJwks(issuer) {
  const url = new URL(issuer);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  const location = `${url.origin}/.well-known/jwt-vc-issuer${path}`;
  const response = await fetch(location, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`${location} answered ${response.status}`);
  const metadata = await response.json();
  if (metadata.issuer !== issuer) throw new Error(`${location} names issuer ${metadata.issuer}`);
  if (metadata.jwks) return metadata.jwks;
  const jwks = await fetch(metadata.jwks_uri, { signal: AbortSignal.timeout(10_000) });
  return jwks.json();
}

// The key a JWT (an SD-JWT VC or its status list token) names: its x5c leaf, or the key
// with its `kid` in the issuer's metadata.
async function signingKey(header, payload) {
  if (header.x5c) return importX509(derToPem(header.x5c[0]), header.alg);
  const { keys } = await issuerMetadataJwks(payload.iss);
  const found = keys.find((key) => !header.kid || key.kid === header.kid);
  if (!found) throw new Error(`no key ${header.kid} in the metadata of ${payload.iss}`);
  return importJWK(found, header.alg);
}

// A Verifier for @sd-jwt: `data` is the JWS signing input, `signature` its third part. A
// Status List Token need not carry `iss`: its signer is the issuer of the credential.
function jwsVerifier(credentialIssuer) {
  return async (data, signature) => {
    const [, encodedPayload] = data.split('.');
    const header = decodeProtectedHeader(`${data}.${signature}`);
    const payload = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8'));
    return verifyWithKey(data, signature, header, { iss: credentialIssuer, ...payload });
  };
}

async function verifyWithKey(data, signature, header, payload) {
  const key = await signingKey(header, payload);
  try {
    await compactVerify(`${data}.${signature}`, key, { algorithms: [header.alg] });
    return true;
  } catch {
    return false;
  }
}

function issuerOf(credential) {
  const [, encodedPayload] = credential.split('~')[0].split('.');
  return JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8')).iss;
}

// The claims a DCQL Credential Query asks, as a presentation frame over top-level claims.
function presentationFrame(query) {
  const frame = {};
  for (const claim of query.claims ?? []) {
    const [name, ...rest] = claim.path;
    if (typeof name !== 'string' || rest.length > 0) {
      throw new Error(`claim path ${JSON.stringify(claim.path)} is not a top-level claim`);
    }
    frame[name] = true;
  }
  return frame;
}

// Another first character: it carries six whole bits, so the decoded bytes change (the
// last character of a base64url segment may carry unused bits).
function flipFirstCharacter(segment) {
  return (segment[0] === 'A' ? 'B' : 'A') + segment.slice(1);
}

// A wrong byte in the JWE ciphertext: the AEAD tag no longer matches.
function tamperCiphertext(jwe) {
  const parts = jwe.split('.');
  parts[3] = flipFirstCharacter(parts[3]);
  return parts.join('.');
}

// The key binding JWT's signature changed by `change`.
function tamperKeyBinding(presentation, change) {
  const cut = presentation.lastIndexOf('~');
  const kbJwt = presentation.slice(cut + 1).split('.');
  kbJwt[2] = change(kbJwt[2]);
  return `${presentation.slice(0, cut + 1)}${kbJwt.join('.')}`;
}

// The same bytes spelt differently: a 64-byte signature ends in a character with four
// unused bits, which a lenient decoder ignores.
function setUnusedBits(segment) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(segment.at(-1));
  return segment.slice(0, -1) + alphabet[last | 0b000001];
}

async function answer(job) {
  const trusted = job.trusted_certificates_pem.map((pem) => new X509Certificate(pem));
  const client = new Openid4vpClient({ callbacks: callbacks(trusted) });
  let stage = 'parse';
  try {
    const parsed = client.parseOpenid4vpAuthorizationRequest({
      authorizationRequest: job.authorization_request_uri,
    });
    stage = 'resolve';
    const resolved = await client.resolveOpenId4vpAuthorizationRequest({
      authorizationRequestPayload: parsed.params,
    });
    const request = resolved.authorizationRequestPayload;
    const queries = resolved.dcql?.query?.credentials ?? [];
    if (queries.length !== 1 || queries[0].format !== 'dc+sd-jwt') {
      throw new Error('this wallet answers a single dc+sd-jwt Credential Query');
    }
    const [query] = queries;

    stage = 'verify-credential';
    const sdJwt = new SDJwtVcInstance({
      hasher: digest,
      hashAlg: 'sha-256',
      saltGenerator: generateSalt,
      verifier: jwsVerifier(issuerOf(job.credential)),
      statusVerifier: jwsVerifier(issuerOf(job.credential)),
      kbSigner: await ES256.getSigner(job.holder_private_jwk),
      kbSignAlg: ES256.alg,
    });
    const issued = await sdJwt.verify(job.credential);
    if (!(query.meta?.vct_values ?? [issued.payload.vct]).includes(issued.payload.vct)) {
      throw new Error(`the held credential is a ${issued.payload.vct}, not what was asked`);
    }

    stage = 'present';
    const frame = presentationFrame(query);
    let presentation = await sdJwt.present(job.credential, frame, {
      kb: {
        payload: {
          iat: Math.floor(Date.now() / 1000),
          aud: request.client_id,
          nonce: request.nonce,
        },
      },
    });
    if (job.tamper === 'key_binding') {
      presentation = tamperKeyBinding(presentation, flipFirstCharacter);
    } else if (job.tamper === 'key_binding_spelling') {
      presentation = tamperKeyBinding(presentation, setUnusedBits);
    }

    stage = 'respond';
    const metadata = request.client_metadata ?? {};
    const created = await client.createOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: request,
      authorizationResponsePayload: { vp_token: { [query.id]: [presentation] } },
      jarm: {
        encryption: { nonce: randomBytes(16).toString('base64url') },
        serverMetadata: {
          authorization_signing_alg_values_supported: ['ES256'],
          authorization_encryption_alg_values_supported: ['ECDH-ES'],
          authorization_encryption_enc_values_supported:
            metadata.encrypted_response_enc_values_supported ?? ['A128GCM', 'A256GCM'],
        },
      },
    });
    let responseJwt = created.jarm.responseJwt;
    if (job.tamper === 'ciphertext') responseJwt = tamperCiphertext(responseJwt);

    stage = 'submit';
    const submitted = await client.submitOpenid4vpAuthorizationResponse({
      authorizationRequestPayload: request,
      authorizationResponsePayload: created.authorizationResponsePayload,
      jarm: { responseJwt },
    });
    const body = await submitted.response.text();
    return {
      stage: 'submitted',
      status: submitted.response.status,
      body,
      client_id: request.client_id,
      client_prefix: resolved.client.prefix ?? resolved.client.scheme ?? null,
      // The highest OpenID4VP version the library finds the request compatible with
      // (100 is 1.0 final, smaller numbers are drafts).
      openid4vp_version: resolved.version,
      response_mode: submitted.responseMode,
      jwe_header: decodeProtectedHeader(responseJwt),
      disclosed: Object.keys(frame),
      issued_claims: issued.payload,
    };
  } catch (error) {
    const detail = error?.errorResponse ?? error?.message ?? String(error);
    return { stage, error: typeof detail === 'string' ? detail : JSON.stringify(detail) };
  }
}

const outcome = await answer(await readJob());
process.stdout.write(`${JSON.stringify(outcome)}\n`);
