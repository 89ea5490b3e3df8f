export { SCOPES, type Scope } from './scopes';
export { TOKEN_AUDIENCE, tokenClaimsSchema, toPrincipal, type Principal } from './tokenClaims';
export {
  createTokenVerifier,
  DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
  type TokenVerifier,
  type TokenVerifierOptions,
  type TokenErrorCode,
  type VerifyResult,
} from './createTokenVerifier';
export { extractBearerToken } from './bearerToken';
export {
  ensureDevKeys,
  ensureDevInternalKeys,
  mintDevToken,
  DEV_ISSUER,
  DEV_INTERNAL_KEY_FILE_NAMES,
  type DevKeyFiles,
  type DevTokenClaims,
} from './devKeys';
export { tokenTrustCheck, internalKeyTrustCheck, type TokenTrustVariables } from './tokenTrustCheck';
export {
  createInternalTokenSigner,
  createInternalTokenVerifier,
  INTERNAL_TOKEN_ISSUER,
  INTERNAL_TOKEN_MAX_LIFETIME_SECONDS,
  INTERNAL_TOKEN_TYPE,
  type InternalCaller,
  type InternalTokenErrorCode,
  type InternalTokenSigner,
  type InternalTokenVerifier,
  type InternalVerifyResult,
} from './internalToken';
export {
  ArtifactSignatureError,
  artifactFileHash,
  artifactKeyId,
  readArtifactPublicKey,
  readArtifactSignatures,
  readArtifactSigningKey,
  signArtifact,
  verifyArtifactSignature,
  SIGNATURES_FILE,
  type ArtifactSignatureProblem,
  type VerifyArtifactOptions,
} from './artifactSignature';
export {
  allowRollbackField,
  artifactPublicKeyField,
  artifactTrustCheck,
  devArtifactPublicKeyPath,
  devArtifactSigningKeyPath,
  type PinnedArtifactKey,
} from './artifactKeys';
