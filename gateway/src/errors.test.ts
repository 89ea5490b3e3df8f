import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { gatewayErrorCodes } from './errors';

/** The README's table of gateway error codes and the registry must list the same codes with the same statuses. */
it('the README table lists exactly the codes of the registry, with their HTTP status', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Query through the gateway'),
    readme.indexOf('\n## ', readme.indexOf('## Query through the gateway') + 1),
  );
  const documented: Record<string, number> = {};
  for (const row of section.split('\n').filter((line) => line.startsWith('| `'))) {
    const [codes, statuses] = row.split('|').slice(1, 3);
    const names = [...codes!.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!);
    const numbers = [...statuses!.matchAll(/\d{3}/g)].map((m) => Number(m[0]));
    // `A` / `B` | 415 / 413: the n-th code has the n-th status; one status covers them all.
    names.forEach((name, i) => (documented[name] = numbers[i] ?? numbers[0]!));
  }
  expect(documented).toEqual(gatewayErrorCodes);
});
