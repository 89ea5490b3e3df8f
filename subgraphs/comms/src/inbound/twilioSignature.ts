import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderPayload } from '@coherence/contracts';

/**
 * Twilio's documented request signature: HMAC-SHA1, keyed with the account's
 * auth token, over the full URL Twilio requested followed by every POST
 * parameter name and value, names sorted; base64. A repeated parameter
 * contributes each distinct value once, values sorted, as twilio-node's
 * `getExpectedTwilioSignature` does (`Array.from(new Set(values)).sort()`).
 */
export function computeTwilioSignature(authToken: string, url: string, params: ProviderPayload): string {
  const signed = Object.keys(params)
    .sort()
    .reduce((acc, key) => {
      const value = params[key]!;
      return (
        acc +
        (Array.isArray(value)
          ? Array.from(new Set(value))
              .sort()
              .map((v) => key + v)
              .join('')
          : key + value)
      );
    }, url);
  return createHmac('sha1', authToken).update(Buffer.from(signed, 'utf8')).digest('base64');
}

/** Constant-time check of an `X-Twilio-Signature` header; false when it is missing. */
export function isValidTwilioSignature(authToken: string, signature: string | undefined, url: string, params: ProviderPayload): boolean {
  if (!signature) return false;
  const expected = Buffer.from(computeTwilioSignature(authToken, url, params));
  const actual = Buffer.from(signature);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
