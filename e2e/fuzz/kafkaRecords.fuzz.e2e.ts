import fc from 'fast-check';
import type { Message } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anyJsonValue,
  anyString,
  encodeJson,
  extremeWeight,
  maybeMutatedSignal,
  signalWithInvalidUtf8,
  singlyMutatedSignal,
  validSignal,
} from './arbitraries';
import { assertProperty } from './assertProperty';
import { fuzzParameters, fuzzTimeoutMs } from './fuzzConfig';
import {
  createOutcomeTally,
  createStallGuard,
  itKeepsTheRunInvariants,
  STALL_DEADLINE_MS,
  startFuzzHarness,
  waitUntil,
  type FuzzHarness,
} from './fuzzHarness';

/**
 * Kafka records as a careless producer inside the cluster could write them:
 * values that are signals (valid, mutated, not UTF-8), any JSON, any bytes,
 * nothing; keys that are the tenant, another tenant, empty, absent or any
 * bytes; odd trace headers. Every record is either stored or dead-lettered
 * (never both, never neither), the partition moves on, and what is stored is
 * projected.
 */
const parameters = fuzzParameters({ name: 'kafka', defaultRuns: 150, defaultSeed: 12_002 });

let harness: FuzzHarness;
let fuzzTenant: string;
let ledgerAtStart: number;
let acceptedTotal = 0;
const guard = createStallGuard();
const tally = createOutcomeTally('kafka');

beforeAll(async () => {
  harness = await startFuzzHarness();
  fuzzTenant = harness.tenant('kafka');
  // Both tenants the records name are registered: the write policy would dead-letter every signal of an unregistered one.
  for (const tenantId of [fuzzTenant, harness.tenant('other')]) await harness.app.registerTenant(tenantId);
  ledgerAtStart = (await harness.counts()).ledger;
});

afterAll(async () => {
  tally.print();
  await harness?.stop();
});

/** A record as the case holds it (printed readably on failure); bytes only when produced. */
interface KafkaRecord {
  key: Uint8Array | string | null;
  value: { json: unknown } | { bytes: Uint8Array } | null;
  headers?: Record<string, string>;
}

function kafkaRecord(): fc.Arbitrary<KafkaRecord> {
  const other = harness.tenant('other');
  const value = fc.oneof(
    { arbitrary: validSignal(fuzzTenant).map((json) => ({ json })), weight: 3 },
    { arbitrary: fc.tuple(validSignal(fuzzTenant), extremeWeight).map(([signal, weight]) => ({ json: { ...signal, weight } })), weight: 1 },
    { arbitrary: maybeMutatedSignal(fuzzTenant, other).map((json) => ({ json })), weight: 3 },
    { arbitrary: singlyMutatedSignal(fuzzTenant, other).map((json) => ({ json })), weight: 3 },
    { arbitrary: signalWithInvalidUtf8(fuzzTenant).map((json) => ({ json })), weight: 1 },
    { arbitrary: anyJsonValue.map((json) => ({ json })), weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })), weight: 1 },
    { arbitrary: fc.constant(null), weight: 1 },
  );
  const key = fc.oneof(
    { arbitrary: fc.constant(fuzzTenant), weight: 10 },
    { arbitrary: fc.constantFrom(null, '', other, `${fuzzTenant} `), weight: 2 },
    { arbitrary: anyString, weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 16 }), weight: 1 },
  );
  const headers = fc.option(
    fc.record(
      {
        traceparent: fc.oneof(anyString, fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')),
        'x-request-id': anyString,
        tracestate: anyString,
      },
      { requiredKeys: [] },
    ),
    { freq: 4, nil: undefined },
  );
  return fc.record({ key, value, headers }, { requiredKeys: ['key', 'value'] });
}

function toMessage(record: KafkaRecord): Message {
  const value = record.value === null ? null : Buffer.from('bytes' in record.value ? record.value.bytes : encodeJson(record.value.json));
  const key = record.key instanceof Uint8Array ? Buffer.from(record.key) : record.key;
  return { key, value, ...(record.headers ? { headers: record.headers } : {}) };
}

const printable = (message: Message) =>
  JSON.stringify({
    key: Buffer.isBuffer(message.key) ? `0x${message.key.toString('hex')}` : message.key,
    value: Buffer.isBuffer(message.value) ? message.value.toString('utf8') : message.value,
    valueHex: Buffer.isBuffer(message.value) ? message.value.toString('hex').slice(0, 120) : null,
  });

async function checkSlice(slice: KafkaRecord[]): Promise<void> {
  const records = slice.map(toMessage);
  // Once the partition is stuck nothing further is consumed: the stall has been reported with its record,
  // and the cases fast-check tries while shrinking can show nothing more.
  if (guard.stalled !== undefined) return;
  const ledgerBefore = (await harness.counts()).ledger;
  const [deadBefore, processedBefore, dedupedBefore] = await Promise.all([
    harness.deadLetterCount(),
    harness.consumerCounter('ingest_events_processed_total'),
    harness.consumerCounter('ingest_signals_deduped_total'),
  ]);
  const [sent] = await harness.producer.send({ topic: harness.topic, acks: -1, messages: records });
  const firstOffset = Number(sent!.baseOffset);
  await guard.check('the consumer stalled', async () => {
    try {
      await waitUntil('the slice to be consumed', async () => (await harness.kafkaLag()) === 0, STALL_DEADLINE_MS);
      return null;
    } catch {
      // The records from the committed offset on are stored in one transaction: the culprit is one of them.
      const stuckAt = await harness.committedOffset();
      const pending = records.slice(Math.max(0, stuckAt - firstOffset));
      return (
        `after ${STALL_DEADLINE_MS} ms the committed offset is still ${stuckAt} (this slice starts at ${firstOffset}); ` +
        `the records not yet committed: ${pending.map(printable).join(', ')}`
      );
    }
  });
  const [deadAfter, processedAfter, dedupedAfter] = await Promise.all([
    harness.deadLetterCount(),
    harness.consumerCounter('ingest_events_processed_total'),
    harness.consumerCounter('ingest_signals_deduped_total'),
  ]);
  const ledgerAfter = (await harness.counts()).ledger;
  const [dead, processed, deduped, stored] = [
    deadAfter - deadBefore,
    processedAfter - processedBefore,
    dedupedAfter - dedupedBefore,
    ledgerAfter - ledgerBefore,
  ];
  tally.add('records', records.length);
  tally.add('processed', processed);
  tally.add('stored', stored);
  tally.add('deduped', deduped);
  tally.add('dead-lettered', dead);
  const what = `${records.length} records → ${processed} processed, ${deduped} deduped, ${dead} dead-lettered, ${stored} ledger rows added`;
  expect(processed + dead, `every record is stored or dead-lettered, exactly once: ${what}`).toBe(records.length);
  expect(stored, `ledger rows added = records processed - deduped: ${what}`).toBe(processed - deduped);
  acceptedTotal += stored;
  if (stored > 0) await guard.check('the relay did not project stored records', () => harness.projectionProblem());
}

describe('fuzz: Kafka record keys and values', () => {
  it(
    'stores or dead-letters every record and never stalls the partition',
    async () => {
      await assertProperty('kafka', fc.asyncProperty(fc.array(kafkaRecord(), { minLength: 1, maxLength: 6 }), checkSlice), parameters);
    },
    fuzzTimeoutMs(parameters, 1_000),
  );

  itKeepsTheRunInvariants(() => ({ harness, tenant: fuzzTenant, ledgerAtStart, acceptedTotal }));
});
