import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { acceptsUnknownClients, acceptUnknownClientsCheck, acceptUnknownClientsField, clientRefusal } from './createClientDirectory';

describe('clientRefusal', () => {
  const client = { scopes: ['coherence:read:self', 'coherence:write:self'], enabled: true };

  it('accepts an enabled client whose allowed scopes hold every scope of the token', () => {
    expect(clientRefusal(client, ['coherence:read:self'], false)).toBeUndefined();
    expect(clientRefusal(client, [], false)).toBeUndefined();
  });

  it('refuses a scope the client may not have, a disabled client, and an unknown one unless accepted', () => {
    expect(clientRefusal(client, ['coherence:read:self', 'tenants:admin'], true)).toBe('CLIENT_SCOPE_NOT_ALLOWED');
    expect(clientRefusal({ ...client, enabled: false }, ['coherence:read:self'], true)).toBe('CLIENT_DISABLED');
    expect(clientRefusal(undefined, ['coherence:read:self'], false)).toBe('CLIENT_UNKNOWN');
    expect(clientRefusal(undefined, ['coherence:read:self'], true)).toBeUndefined();
  });
});

describe('the unknown-clients switch', () => {
  const schema = z
    .object({ X_ACCEPT_UNKNOWN_CLIENTS: acceptUnknownClientsField(), NODE_ENV: z.string().optional() })
    .superRefine(acceptUnknownClientsCheck('X_ACCEPT_UNKNOWN_CLIENTS'));

  it('defaults to accepting outside production and to refusing in it', () => {
    expect(acceptsUnknownClients(undefined, undefined)).toBe(true);
    expect(acceptsUnknownClients(undefined, 'development')).toBe(true);
    expect(acceptsUnknownClients(undefined, 'production')).toBe(false);
    expect(acceptsUnknownClients('false', 'development')).toBe(false);
  });

  it('refuses true in production, naming the field', () => {
    const result = schema.safeParse({ X_ACCEPT_UNKNOWN_CLIENTS: 'true', NODE_ENV: 'production' });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['X_ACCEPT_UNKNOWN_CLIENTS']);
    expect(schema.safeParse({ X_ACCEPT_UNKNOWN_CLIENTS: 'false', NODE_ENV: 'production' }).success).toBe(true);
    expect(schema.safeParse({ X_ACCEPT_UNKNOWN_CLIENTS: 'yes' }).success).toBe(false);
  });
});
