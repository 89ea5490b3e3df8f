import { createInternalTokenSigner, ensureDevInternalKeys, type InternalCaller } from '@coherence/auth';
import { INTERNAL_TOKEN_HEADER } from '@coherence/contracts';
import { randomUUID } from 'node:crypto';

/**
 * For tests that call a subgraph directly: a dev internal key pair made under
 * `dir` (configure the subgraph with `jwksPath` as SUBGRAPH_INTERNAL_JWKS)
 * and the headers of a call as the gateway signs it. The caller defaults to
 * a subject `test-gateway-caller` in region `us` that may touch no tenant.
 */
export async function createGatewayCalls(dir: string) {
  const keys = await ensureDevInternalKeys(dir);
  const signer = await createInternalTokenSigner(keys.privateKeyPath);
  return {
    jwksPath: keys.jwksPath,
    signingKeyPath: keys.privateKeyPath,
    headers(subgraph: string, caller: Partial<InternalCaller> = {}): Record<string, string> {
      const token = signer.mint(subgraph, {
        subject: 'test-gateway-caller',
        scopes: [],
        tenantIds: [],
        region: 'us',
        requestId: randomUUID(),
        ...caller,
      });
      return { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: token };
    },
  };
}

export type GatewayCalls = Awaited<ReturnType<typeof createGatewayCalls>>;
