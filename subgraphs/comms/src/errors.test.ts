import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { commandFailureCodes, inboundErrorCodes, operatorErrorCodes } from './errors';

const runbook = readFileSync(new URL('../../../docs/runbooks/comms.md', import.meta.url), 'utf8');

it('documents every command failure code with its kind in the runbook', () => {
  for (const [code, kind] of Object.entries(commandFailureCodes)) {
    expect(runbook, code).toMatch(new RegExp(`\\| \`${code}\`\\s+\\| ${kind}\\s+\\|`));
  }
});

it('documents every operator and inbound error code in the runbook', () => {
  for (const code of [...Object.keys(operatorErrorCodes), ...Object.keys(inboundErrorCodes)])
    expect(runbook, code).toContain(`\`${code}\``);
  for (const [code, status] of Object.entries(inboundErrorCodes)) expect(runbook).toContain(`\`${code}\` (${status})`);
});
