import { DEV_ISSUER, ensureDevKeys, mintDevToken, SCOPES } from '@coherence/auth';
import { tenantIdSchema } from '@coherence/contracts';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

export interface DevTokens {
  /** The dev key pair's folder (the stack's `.data/stack/keys`): the gateway trusts its public half. */
  keysDir: string;
  /** The demo tenants the home page lists. */
  tenants: string[];
}

/** Lifetime of a Workbench dev token: a working session. */
const DEV_TOKEN_TTL_SECONDS = 3_600;

/** Break glass is never handed out by a form; `npm run token` can still mint it on purpose. */
const grantableScopes = Object.values(SCOPES).filter((scope) => scope !== SCOPES.breakGlass) as [string, ...string[]];

const requestSchema = z.strictObject({
  tenant: tenantIdSchema.min(1),
  scopes: z.array(z.enum(grantableScopes)).min(1).max(grantableScopes.length),
  residency: z
    .array(z.string().regex(/^[a-z0-9-]{1,32}$/))
    .min(1)
    .max(8),
});

/**
 * `POST /dev/token` and `GET /dev/tenants`, only on the dev stack's loopback
 * server (startWorkbench refuses them in production or on another address).
 * Mints with the same code and key as `npm run token`. A page of another
 * origin cannot use it: it must send JSON (a preflight this server never
 * answers) and any `Origin` it sends must be this server's.
 */
export async function registerDevTokenEndpoint(app: FastifyInstance, devTokens: DevTokens) {
  const keys = await ensureDevKeys(devTokens.keysDir);
  app.get('/dev/tenants', async () => ({ tenants: devTokens.tenants }));
  app.post('/dev/token', async (request, reply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `${request.protocol}://${request.host}`) {
      return reply.code(403).send({ code: 'ORIGIN_NOT_ALLOWED', error: 'dev tokens are for this server’s own pages' });
    }
    const parsed = requestSchema.safeParse(request.body);
    if (!parsed.success) return reply.code(400).send({ code: 'BAD_REQUEST', error: z.prettifyError(parsed.error) });
    const { tenant, scopes, residency } = parsed.data;
    const token = await mintDevToken(keys.privateKeyPath, {
      sub: 'workbench-dev',
      tenant,
      scopes,
      residency,
      clientId: 'workbench-dev',
      ttlSeconds: DEV_TOKEN_TTL_SECONDS,
      issuer: DEV_ISSUER,
    });
    return reply.header('cache-control', 'no-store').send({ token });
  });
}
