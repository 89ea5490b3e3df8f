/**
 * Mints a token the dev stack trusts: `npm run token -- --tenant acme --scope coherence:read:self --residency us`.
 * Signed by the dev key in .data/stack/keys (made on first use; the stack's
 * gateway and ingest trust its public half). For local use only.
 */
import { DEFAULT_MAX_TOKEN_LIFETIME_SECONDS, DEV_ISSUER, ensureDevKeys, mintDevToken, SCOPES } from '@coherence/auth';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** Where the dev stack keeps its key pair; scripts/stack.ts uses the same folder. */
const stackKeysDir = join(resolve(import.meta.dirname, '..'), '.data', 'stack', 'keys');

const help = `usage: npm run token -- --tenant <id> [--scope <scopes>]… [--residency <region>]… [options]

Prints a JWT signed with the dev key (${stackKeysDir}).

  --tenant <id>         the token's tenant (required)
  --scope <scopes>      repeatable, and space-separated like the claim itself
                        ("${SCOPES.writeSelf} ${SCOPES.readSelf}"); default ${SCOPES.readSelf}
                        each one of: ${Object.values(SCOPES).join(', ')}
  --residency <region>  regions the subject may read from, repeatable; default us
  --sub <subject>       default dev-user
  --client <id>         client_id; default dev-cli. Must be an enabled API client of the tenant holding every
                        scope asked for, unless unknown clients are accepted (outside production; docs/runbooks/tenant-admin.md)
  --ttl <seconds>       default 3600; at most ${DEFAULT_MAX_TOKEN_LIFETIME_SECONDS}, the longest lifetime the services accept by default
  --keys <dir>          the key pair to sign with, made there on first use; default the stack's
  -h, --help            this help

Example:
  curl -s http://127.0.0.1:4000/graphql -H "authorization: Bearer $(npm run -s token -- --tenant acme)" …`;

const { values } = parseArgs({
  options: {
    tenant: { type: 'string' },
    scope: { type: 'string', multiple: true },
    residency: { type: 'string', multiple: true },
    sub: { type: 'string' },
    client: { type: 'string' },
    ttl: { type: 'string' },
    keys: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(help);
  process.exit(0);
}
if (!values.tenant) {
  console.error(`--tenant is required\n\n${help}`);
  process.exit(2);
}
const ttlSeconds = Number(values.ttl ?? 3_600);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > DEFAULT_MAX_TOKEN_LIFETIME_SECONDS) {
  console.error(`--ttl must be a whole number of seconds from 1 to ${DEFAULT_MAX_TOKEN_LIFETIME_SECONDS} (longer tokens are refused)`);
  process.exit(2);
}
// `--scope "a b"` is what a reader copies from a decoded token's `scope` claim.
const scopes = [...new Set((values.scope ?? []).flatMap((value) => value.split(/\s+/)).filter((scope) => scope !== ''))];
const known = new Set<string>(Object.values(SCOPES));
const unknown = scopes.filter((scope) => !known.has(scope));
if (unknown.length > 0) {
  console.error(`unknown scope ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  process.exit(2);
}

const keys = await ensureDevKeys(values.keys ?? stackKeysDir);
console.log(
  await mintDevToken(keys.privateKeyPath, {
    sub: values.sub ?? 'dev-user',
    tenant: values.tenant,
    scopes: scopes.length > 0 ? scopes : [SCOPES.readSelf],
    residency: values.residency ?? ['us'],
    clientId: values.client ?? 'dev-cli',
    ttlSeconds,
    issuer: DEV_ISSUER,
  }),
);
