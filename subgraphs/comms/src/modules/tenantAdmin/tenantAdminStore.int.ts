import { TENANT_CHANGED_CHANNEL, tenantChangedSchema, type TenantChanged } from '@coherence/contracts';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createPgPool, type PgPool } from '@coherence/platform';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createSsrfGuard } from '../../delivery/createSsrfGuard';
import { createTenantAdminStore, type TenantAdminStore } from './createTenantAdminStore';

/**
 * The tenant-admin store on the real Postgres, as comms_admin: every change
 * is audited with its before and after in its own transaction and announced
 * on `tenant_changed`; bad input is refused naming the field; webhook URLs
 * the delivery guard would refuse are refused when written.
 */
let database: TestDatabase;
let pool: PgPool;
let store: TenantAdminStore;
let listener: pg.Client;
const notices: TenantChanged[] = [];

const ADMIN = 'admin:alice';
const tenant = (name: string) => `${database.namespace}-${name}`;
const settings = { residency: 'us', name: 'Acme Corp', weight: 2 };

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  pool = createPgPool(database.urls.commsAdmin);
  store = createTenantAdminStore({ pool, guard: createSsrfGuard({ allow: [] }) });
  listener = new pg.Client({ connectionString: database.urls.gateway });
  await listener.connect();
  listener.on('notification', (message) => notices.push(tenantChangedSchema.parse(JSON.parse(message.payload!))));
  await listener.query(`LISTEN ${TENANT_CHANGED_CHANNEL}`);
});

afterAll(async () => {
  await listener?.end();
  await pool?.end();
  await database?.drop();
});

/** The notices for `tenantId` once `count` of them have arrived (NOTIFY is asynchronous to the committing client). */
async function noticesFor(tenantId: string, count: number): Promise<TenantChanged[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const found = notices.filter((notice) => notice.tenantId === tenantId);
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('tenants', () => {
  it('creates a tenant with an audit row (before null) and a TenantChanged notice', async () => {
    const id = tenant('create');
    const created = await store.createTenant(ADMIN, { tenantId: id, settings });
    expect(created).toEqual({
      tenantId: id,
      name: 'Acme Corp',
      residency: 'us',
      region: null,
      weight: 2,
      cacheTtlSeconds: null,
      rateShare: null,
      budgetUnits: null,
      suspendedAt: null,
    });
    expect(await store.audit(id)).toEqual([
      expect.objectContaining({ tenantId: id, actor: ADMIN, action: 'create', before: null, after: created }),
    ]);
    expect(await noticesFor(id, 1)).toEqual([{ tenantId: id, kind: 'tenant' }]);
  });

  it('refuses a second tenant with the same id, and changes nothing', async () => {
    const id = tenant('twice');
    await store.createTenant(ADMIN, { tenantId: id, settings });
    await expect(store.createTenant('admin:bob', { tenantId: id, settings: { residency: 'eu' } })).rejects.toMatchObject({
      code: 'TENANT_EXISTS',
      field: 'tenantId',
    });
    expect((await store.tenant(id))?.residency).toBe('us');
    expect(await store.audit(id)).toHaveLength(1);
  });

  it('updates the settings given, keeps the others, and audits before and after', async () => {
    const id = tenant('update');
    const created = await store.createTenant(ADMIN, { tenantId: id, settings });
    const updated = await store.updateTenant('admin:bob', id, { weight: 3, cacheTtlSeconds: 30, rateShare: 0.5, budgetUnits: 1_000 });
    expect(updated).toEqual({ ...created, weight: 3, cacheTtlSeconds: 30, rateShare: 0.5, budgetUnits: 1_000 });
    const [latest] = await store.audit(id);
    expect(latest).toMatchObject({ actor: 'admin:bob', action: 'update', before: created, after: updated });

    // null goes back to the default; a change that changes nothing is not a change.
    expect(await store.updateTenant(ADMIN, id, { cacheTtlSeconds: null })).toMatchObject({ cacheTtlSeconds: null, weight: 3 });
    await store.updateTenant(ADMIN, id, { weight: 3 });
    expect((await store.audit(id)).map((entry) => entry.action)).toEqual(['update', 'update', 'create']);
  });

  it('suspends and resumes, each audited and announced', async () => {
    const id = tenant('suspend');
    await store.createTenant(ADMIN, { tenantId: id, settings });
    const suspended = await store.suspendTenant(ADMIN, id);
    expect(suspended.suspendedAt).toEqual(expect.any(String));
    // Suspending again keeps the first time and records nothing.
    expect((await store.suspendTenant(ADMIN, id)).suspendedAt).toBe(suspended.suspendedAt);
    expect((await store.resumeTenant(ADMIN, id)).suspendedAt).toBeNull();
    const audit = await store.audit(id);
    expect(audit.map((entry) => entry.action)).toEqual(['resume', 'suspend', 'create']);
    expect(audit[1]).toMatchObject({ before: { suspendedAt: null }, after: { suspendedAt: suspended.suspendedAt } });
    expect(await noticesFor(id, 3)).toHaveLength(3);
  });

  it('refuses a change to a tenant that does not exist', async () => {
    await expect(store.suspendTenant(ADMIN, tenant('ghost'))).rejects.toMatchObject({ code: 'TENANT_NOT_FOUND', field: 'tenantId' });
  });

  it.each([
    ['a huge name', { tenantId: 'x', settings: { residency: 'us', name: 'n'.repeat(100_000) } }, 'settings.name'],
    ['an unknown field', { tenantId: 'x', settings: { residency: 'us', superuser: true } }, 'settings.superuser'],
    ['a residency that is not a region', { tenantId: 'x', settings: { residency: 'US; DROP TABLE' } }, 'settings.residency'],
    ['no residency', { tenantId: 'x', settings: {} }, 'settings.residency'],
    ['a weight of 0', { tenantId: 'x', settings: { residency: 'us', weight: 0 } }, 'settings.weight'],
    ['a tenant id with a slash', { tenantId: 'a/b', settings: { residency: 'us' } }, 'tenantId'],
  ])('refuses %s, naming the field', async (_, input, field) => {
    await expect(store.createTenant(ADMIN, input)).rejects.toMatchObject({ code: 'INVALID_INPUT', field });
  });
});

describe('comms settings', () => {
  it('sets and removes quiet hours, audited', async () => {
    const id = tenant('quiet');
    await store.createTenant(ADMIN, { tenantId: id, settings });
    const quietHours = { timeZone: 'Europe/Berlin', startsAt: '22:00', endsAt: '06:30' };
    expect(await store.setQuietHours(ADMIN, id, quietHours)).toEqual(quietHours);
    expect(await store.quietHours(id)).toEqual(quietHours);
    await store.setQuietHours(ADMIN, id, null);
    expect(await store.quietHours(id)).toBeNull();
    const [removed, set] = await store.audit(id);
    expect(set).toMatchObject({ action: 'set_quiet_hours', before: null, after: quietHours });
    expect(removed).toMatchObject({ action: 'set_quiet_hours', before: quietHours, after: null });
    await expect(store.setQuietHours(ADMIN, id, { ...quietHours, timeZone: 'Mars/Olympus' })).rejects.toMatchObject({
      field: 'quietHours.timeZone',
    });
    await expect(store.setQuietHours(ADMIN, id, { ...quietHours, endsAt: '24:00' })).rejects.toMatchObject({ field: 'quietHours.endsAt' });
  });

  it('writes a contact whose URL deliveries may reach, audited', async () => {
    const id = tenant('contact');
    await store.createTenant(ADMIN, { tenantId: id, settings });
    const contact = { contactId: 'ops', url: 'https://93.184.215.14/hook' };
    expect(await store.putContact(ADMIN, id, contact)).toEqual(contact);
    expect(await store.contacts(id)).toEqual([contact]);
    expect(await store.removeContact(ADMIN, id, 'ops')).toBe(true);
    expect((await store.audit(id)).slice(0, 2)).toMatchObject([
      { action: 'remove_contact', before: contact, after: null },
      { action: 'put_contact', before: null, after: contact },
    ]);
  });

  it.each([
    ['loopback', 'http://127.0.0.1:8080/hook'],
    ['cloud metadata', 'http://169.254.169.254/latest/meta-data'],
    ['a private network', 'https://10.1.2.3/hook'],
    ['IPv4 mapped in IPv6', 'http://[::ffff:127.0.0.1]/hook'],
    ['a name resolving to loopback', 'http://localhost/hook'],
    ['a scheme other than http(s)', 'file:///etc/passwd'],
  ])('refuses a webhook to %s (SSRF guard) and stores nothing', async (_, url) => {
    const id = tenant(`ssrf-${url.length}`);
    await store.createTenant(ADMIN, { tenantId: id, settings }).catch(() => undefined);
    await expect(store.putContact(ADMIN, id, { contactId: 'evil', url })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'contact.url',
    });
    expect(await store.contacts(id)).toEqual([]);
  });
});

describe('API clients', () => {
  it('writes a client with its scopes, audited, and refuses scopes that do not exist', async () => {
    const id = tenant('clients');
    await store.createTenant(ADMIN, { tenantId: id, settings });
    const client = { clientId: 'producer-1', scopes: ['coherence:write:self', 'coherence:read:self'], enabled: true };
    const written = await store.putApiClient(ADMIN, id, client);
    expect(written).toEqual({ ...client, scopes: ['coherence:read:self', 'coherence:write:self'] });
    await store.putApiClient(ADMIN, id, { ...client, enabled: false });
    expect(await store.apiClients(id)).toEqual([{ ...written, enabled: false }]);
    expect((await store.audit(id))[0]).toMatchObject({ action: 'put_api_client', before: written, after: { enabled: false } });
    await expect(store.putApiClient(ADMIN, id, { ...client, scopes: ['root'] })).rejects.toMatchObject({ field: 'client.scopes[0]' });
    expect(await noticesFor(id, 3)).toContainEqual({ tenantId: id, kind: 'clients' });
  });
});
