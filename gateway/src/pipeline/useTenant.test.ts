import { describe, expect, it } from 'vitest';
import type { TenantRecord } from '@coherence/policy';
import { testContext, testPrincipal } from './testContext';
import { useTenant, type TenantSource } from './useTenant';

const rows: Record<string, TenantRecord> = {
  acme: { residency: 'us', weight: 3, cacheTtlSeconds: 60, suspended: false },
  ops: { residency: 'eu', weight: 2, cacheTtlSeconds: null, suspended: false },
};

/** The registered rows above, counting every read: the step must ask once per request. */
function countingSource() {
  const asked: string[][] = [];
  const source: TenantSource = {
    recordsOf: async (tenantIds) => {
      asked.push([...tenantIds]);
      return new Map(tenantIds.flatMap((id) => (rows[id] ? [[id, rows[id]] as const] : [])));
    },
  };
  return { source, asked };
}

const principal = testPrincipal('ops');

describe('useTenant', () => {
  it('reads the touched tenants once and acts for the first; residency only of the registered ones', async () => {
    const { source, asked } = countingSource();
    const context = testContext({ principal, tenantIds: ['acme', 'unregistered'] });
    expect(await useTenant({ tenants: source }).onRequest!(context)).toBeUndefined();
    expect(asked).toEqual([['acme', 'unregistered']]);
    expect(context.tenant).toEqual({ tenantId: 'acme', record: rows['acme'], residency: new Map([['acme', 'us']]), suspended: [] });
  });

  it("acts for the token's own tenant when the operation touches none, with no residency for the policy", async () => {
    const { source, asked } = countingSource();
    const context = testContext({ principal, tenantIds: [] });
    await useTenant({ tenants: source }).onRequest!(context);
    expect(asked).toEqual([['ops']]);
    expect(context.tenant).toEqual({ tenantId: 'ops', record: rows['ops'], residency: new Map(), suspended: [] });
  });

  it('fails loudly when wired before the persisted-operation step', async () => {
    await expect(async () => useTenant({ tenants: countingSource().source }).onRequest!(testContext({ principal }))).rejects.toThrow(
      /ran before tenantIds/,
    );
  });
});
