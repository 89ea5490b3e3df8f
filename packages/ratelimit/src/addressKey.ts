import { isIPv4, isIPv6 } from 'node:net';

/**
 * The key a client address is throttled under: an IPv4 address as it is
 * (also when IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address by its /64
 * prefix, since one host may pick any address in its /64 at will, and
 * per-address keys would give it 2^64 buckets.
 */
export function addressKey(address: string): string {
  const mapped = address.toLowerCase().replace(/^::ffff:/, '');
  if (isIPv4(mapped)) return mapped;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.toLowerCase().split('%')[0]!.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
