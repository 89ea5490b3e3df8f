import { describe, expect, it } from 'vitest';
import { createSsrfGuard } from './createSsrfGuard';
import { redactSecrets, toResponseSnippet } from './responseSnippet';
import { classifyStatus } from './createWebhookHandler';

describe('SSRF guard address ranges', () => {
  const guard = createSsrfGuard({ allow: [] });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:169.254.169.254', 'linkLocal'],
    ['2002:7f00:1::', '6to4'],
    // IPv4-compatible ::/96 (what URL makes of [::127.0.0.1]); ipaddr.js calls these unicast.
    ['::7f00:1', 'ipv4Compatible'],
    ['::a9fe:a9fe', 'ipv4Compatible'],
    ['::808:808', 'ipv4Compatible'],
  ])('refuses %s (%s)', (address, range) => {
    expect(guard.refusedRange(address)).toBe(range);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111'])('lets public unicast %s through', (address) => {
    expect(guard.refusedRange(address)).toBeUndefined();
  });

  it('lets an allowlisted range through, and only that range', () => {
    const allowing = createSsrfGuard({ allow: ['127.0.0.1/32'] });
    expect(allowing.refusedRange('127.0.0.1')).toBeUndefined();
    expect(allowing.refusedRange('127.0.0.2')).toBe('loopback');
    expect(allowing.refusedRange('::1')).toBe('loopback');
  });

  it('refuses non-HTTP schemes and blocked IP literals without connecting', async () => {
    const signal = new AbortController().signal;
    const request = { method: 'POST' as const, headers: {}, body: '{}', signal };
    await expect(guard.send('file:///etc/passwd', request)).rejects.toMatchObject({ name: 'UrlBlockedError' });
    await expect(guard.send('http://169.254.169.254/latest/meta-data', request)).rejects.toMatchObject({
      name: 'UrlBlockedError',
      range: 'linkLocal',
    });
    await expect(guard.send('http://[::1]:9/', request)).rejects.toMatchObject({ name: 'UrlBlockedError', range: 'loopback' });
    await expect(guard.send('http://[::127.0.0.1]:9/', request)).rejects.toMatchObject({
      name: 'UrlBlockedError',
      range: 'ipv4Compatible',
    });
  });

  it('refuses a host name that resolves to loopback (checked in the lookup)', async () => {
    const request = { method: 'POST' as const, headers: {}, body: '{}', signal: new AbortController().signal };
    await expect(guard.send('http://localhost:9/', request)).rejects.toMatchObject({ name: 'UrlBlockedError', range: 'loopback' });
  });
});

describe('delivery classification and snippets', () => {
  it('classifies statuses', () => {
    expect(classifyStatus(204)).toEqual({ outcome: 'delivered' });
    expect(classifyStatus(429).code).toBe('WEBHOOK_RATE_LIMITED');
    expect(classifyStatus(503)).toEqual({ outcome: 'transient', code: 'WEBHOOK_UNAVAILABLE' });
    expect(classifyStatus(400)).toEqual({ outcome: 'permanent', code: 'WEBHOOK_REJECTED' });
    expect(classifyStatus(404).outcome).toBe('permanent');
  });

  it('keeps allowlisted headers only and masks secrets', () => {
    const snippet = toResponseSnippet(
      { 'content-type': 'application/json', 'set-cookie': ['s=1'], 'www-authenticate': 'Basic' },
      '{"ok":false,"api_key":"abc123","nested":{"clientSecret":"s3cr3t"},"note":"Bearer eyJhbGciOi.x.y"}',
    );
    expect(snippet.headers).toEqual({ 'content-type': 'application/json' });
    expect(snippet.body).not.toMatch(/abc123|s3cr3t|eyJhbGciOi/);
    expect(snippet.body).toContain('"ok":false');
    expect(redactSecrets('token=abc&x=1')).toBe('token=[redacted]&x=1');
  });
});
