import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { coherenceChangedMessageSchema } from './coherenceChanged';
import { DEFAULT_MAX_FUTURE_SKEW_MS, signalSchema } from './signal';
import { signalBatchSchema } from './signalBatch';
import { isoDateTimeSchema, STORABLE_INSTANT_PATTERN } from './scalars';
import { COHERENCE_CHANGED_CHANNEL, SIGNALS_TOPIC } from './topics';

/** Folder of the checked-in JSON Schemas (`npm run schemas:write` regenerates them). */
export const jsonSchemasDir = fileURLToPath(new URL('../json-schema/', import.meta.url));

/**
 * Rules the zod contracts check in code that JSON Schema cannot say; each
 * schema's description lists the ones that apply, so producers in other
 * languages know what a 400 or a dead-lettered record may still report.
 */
const STORABLE_STRINGS = 'Every string must be storable: no NUL character (U+0000) and no lone UTF-16 surrogate (rule storable_string).';
const NOT_FUTURE = `A ts more than ${DEFAULT_MAX_FUTURE_SKEW_MS / 60_000} minutes ahead of the receiver’s clock is refused (rule not_future).`;

interface JsonSchemaSpec {
  title: string;
  description: string;
  schema: z.ZodType;
  /** `input` for what producers send (defaults may be left out), `output` for what the platform publishes. */
  io: 'input' | 'output';
}

const specs: Record<string, JsonSchemaSpec> = {
  'signal-batch.schema.json': {
    title: 'Coherence signal batch',
    description: `Body of POST /v1/signals: 1..1000 signals of the token's tenant, all-or-nothing. ${STORABLE_STRINGS} ${NOT_FUTURE}`,
    schema: signalBatchSchema,
    io: 'input',
  },
  'signal-record.schema.json': {
    title: 'Coherence signal Kafka record value',
    description: `Value of one record on topic ${SIGNALS_TOPIC}: one signal as JSON (UTF-8); the record key must be its tenantId. A record that breaks this schema or the rules below goes to the dead-letter topic. ${STORABLE_STRINGS} ${NOT_FUTURE}`,
    schema: signalSchema,
    io: 'input',
  },
  'coherence-changed.schema.json': {
    title: 'CoherenceChanged message',
    description: `Published on Redis (COHERENCE_CHANGED_CHANNEL, default ${COHERENCE_CHANGED_CHANNEL}) after a commit changed a tenant’s score or status, in the platform’s message envelope. The envelope tenantId, payload.tenantId and payload.current.tenantId are always equal (rule tenant_mismatch).`,
    schema: coherenceChangedMessageSchema,
    io: 'output',
  },
};

/**
 * The producer and consumer contracts as JSON Schema (draft 2020-12), file
 * name → text, generated from the zod contracts so the two cannot drift
 * (`npm run schemas:check`).
 */
export function renderJsonSchemas(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(specs).map(([file, spec]) => {
      const generated = z.toJSONSchema(spec.schema, { io: spec.io, target: 'draft-2020-12', override: addStorableInstantPattern });
      const { $schema, ...rest } = generated;
      const document = { $schema, $id: file, title: spec.title, description: spec.description, ...rest };
      return [file, `${JSON.stringify(document, null, 2)}\n`];
    }),
  );
}

/**
 * Every date-time also gets the storable-instant rule as a second pattern
 * (zod checks it in code, so toJSONSchema cannot see it): JSON Schema
 * validators then refuse year 0000 and offsets beyond ±15:59 as ingest does.
 */
function addStorableInstantPattern({ zodSchema, jsonSchema }: { zodSchema: unknown; jsonSchema: Record<string, unknown> }): void {
  if (zodSchema === isoDateTimeSchema) jsonSchema.allOf = [{ pattern: STORABLE_INSTANT_PATTERN.source }];
}
