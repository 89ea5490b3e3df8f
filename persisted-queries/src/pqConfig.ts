import { devArtifactSigningKeyPath } from '@coherence/auth';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';

const configSchema = z.strictObject({
  /** Globs of operation sources: `.graphql` files and JS/TS with gql/graphql tags. */
  sources: z.array(z.string().min(1)).min(1),
  manifest: z.string().min(1),
  supergraph: z.string().min(1),
  /** The shared store gateways load published manifests from. */
  publishDir: z.string().min(1),
  /** The private key (PEM or JWK file) that signs the manifest; default the dev key, which production gateways refuse. */
  signingKey: z.string().min(1).optional(),
});

export type PqConfig = Required<z.output<typeof configSchema>> & { root: string };

export const CONFIG_FILE = 'pq.config.json';

/** Finds `pq.config.json` upwards from `startDir`; paths in it are relative to its folder. */
export function loadPqConfig(startDir: string, explicitPath?: string): PqConfig {
  let path = explicitPath ? resolve(explicitPath) : undefined;
  for (let dir = resolve(startDir); !path; dir = dirname(dir)) {
    if (existsSync(resolve(dir, CONFIG_FILE))) path = resolve(dir, CONFIG_FILE);
    else if (dirname(dir) === dir) throw new Error(`no ${CONFIG_FILE} found from ${startDir} upwards`);
  }
  const parsed = configSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const root = dirname(path);
  return {
    root,
    sources: parsed.data.sources,
    manifest: resolve(root, parsed.data.manifest),
    supergraph: resolve(root, parsed.data.supergraph),
    publishDir: resolve(root, parsed.data.publishDir),
    signingKey: parsed.data.signingKey ? resolve(root, parsed.data.signingKey) : devArtifactSigningKeyPath,
  };
}
