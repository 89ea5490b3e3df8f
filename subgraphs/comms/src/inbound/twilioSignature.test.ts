import { describe, expect, it } from 'vitest';
import { computeTwilioSignature, isValidTwilioSignature } from './twilioSignature';

// Twilio's published example (docs "Webhooks security" / api-snippets signature_validation):
// auth token 12345, this URL and these POST parameters sign to RSOYDt4T1cUTdK1PDd93/VVr8B8=.
const authToken = '12345';
const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };
const published = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';

describe('Twilio request signature', () => {
  it('reproduces the published example', () => {
    expect(computeTwilioSignature(authToken, url, params)).toBe(published);
    expect(isValidTwilioSignature(authToken, published, url, params)).toBe(true);
  });

  it('reproduces the older published example (+12349013030)', () => {
    const older = { ...params, Caller: '+12349013030', From: '+12349013030' };
    expect(computeTwilioSignature(authToken, url, older)).toBe('0/KCTR6DLpKmkAf8muzZqo1nDgQ=');
  });

  it('does not depend on parameter order', () => {
    const reversed = Object.fromEntries(Object.entries(params).reverse());
    expect(computeTwilioSignature(authToken, url, reversed)).toBe(published);
  });

  it('refuses a missing signature, another token, a changed URL or a changed parameter', () => {
    expect(isValidTwilioSignature(authToken, undefined, url, params)).toBe(false);
    expect(isValidTwilioSignature('54321', published, url, params)).toBe(false);
    expect(isValidTwilioSignature(authToken, published, `${url}&baz=3`, params)).toBe(false);
    expect(isValidTwilioSignature(authToken, published, url, { ...params, Digits: '1235' })).toBe(false);
    expect(isValidTwilioSignature(authToken, published.slice(1), url, params)).toBe(false);
  });

  it('signs a repeated parameter as twilio-node does: distinct values, sorted', () => {
    const single = computeTwilioSignature(authToken, url, { MediaUrl: 'a' });
    const sorted = computeTwilioSignature(authToken, `${url}MediaUrla`, { MediaUrl: 'b' });
    expect(computeTwilioSignature(authToken, url, { MediaUrl: ['a', 'b'] })).not.toBe(single);
    expect(computeTwilioSignature(authToken, url, { MediaUrl: ['a', 'b'] })).toBe(sorted);
    // Order of arrival and repeats do not change what Twilio signed.
    expect(computeTwilioSignature(authToken, url, { MediaUrl: ['b', 'a'] })).toBe(sorted);
    expect(computeTwilioSignature(authToken, url, { MediaUrl: ['b', 'a', 'b'] })).toBe(sorted);
    expect(computeTwilioSignature(authToken, url, { MediaUrl: ['a', 'a'] })).toBe(single);
  });
});
