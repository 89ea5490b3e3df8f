import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { SsrfGuard } from '../../delivery/createSsrfGuard';
import { TenantAdminError } from './tenantAdminInput';

/**
 * Refuses, at write time, a webhook URL the delivery guard would refuse at
 * send time: every address its host resolves to now must be one the guard
 * lets through. Deliveries still check each connection (DNS can change
 * after this), so this is for the admin's sake: a contact that could never
 * be reached is an error they see, not a command in troubleshooting later.
 */
export async function checkWebhookUrl(guard: Pick<SsrfGuard, 'refusedRange'>, url: string, field: string): Promise<void> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host)
    ? [host]
    : await lookup(host, { all: true, verbatim: true }).then(
        (found) => found.map((entry) => entry.address),
        () => {
          throw new TenantAdminError('INVALID_INPUT', field, `${host} does not resolve`);
        },
      );
  for (const address of addresses) {
    const range = guard.refusedRange(address);
    if (range)
      throw new TenantAdminError('INVALID_INPUT', field, `${host} resolves to ${address} (${range}), which deliveries may not reach`);
  }
}
