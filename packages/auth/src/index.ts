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
export { ensureDevKeys, mintDevToken, DEV_ISSUER, type DevKeyFiles, type DevTokenClaims } from './devKeys';
export { tokenTrustCheck, type TokenTrustVariables } from './tokenTrustCheck';
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
