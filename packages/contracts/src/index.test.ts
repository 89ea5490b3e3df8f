import { describe, expect, it } from 'vitest';
import * as contracts from './index';

describe('@coherence/contracts public surface', () => {
  it('exports the names other packages code against', () => {
    const names = [
      'validate',
      'toValidationIssues',
      'formatIssuePath',
      'isStorableString',
      'storableStringSchema',
      'signalSchema',
      'createSignalSchema',
      'acceptedSignalSchema',
      'signalBatchSchema',
      'createSignalBatchSchema',
      'coherenceStatusSchema',
      'coherenceScoreSchema',
      'coherenceChangedSchema',
      'coherenceChangedMessageSchema',
      'decodeCoherenceChangedMessage',
      'envelopeHeaderSchema',
      'messageEnvelopeSchema',
      'eventEnvelopeSchema',
      'outboxEventSchema',
      'signalsAcceptedEventSchema',
      'policyDecisionSchema',
      'commsEnvelopeSchema',
      'dispatchCommandSchema',
      'evidenceRecordSchema',
      'requestTrace',
      'sentTraceId',
      'isTraceparent',
    ] as const;
    for (const name of names) {
      const exported: unknown = contracts[name];
      // Schemas are zod objects with safeParse; the rest are plain functions.
      const callable = typeof exported === 'function' || (typeof exported === 'object' && exported !== null && 'safeParse' in exported);
      expect(callable, name).toBe(true);
    }
  });

  it('exports the fixed constants', () => {
    expect(contracts.SIGNALS_ACCEPTED).toBe('SignalsAccepted');
    expect(contracts.COHERENCE_CHANGED).toBe('CoherenceChanged');
    expect(contracts.TRACEPARENT_HEADER).toBe('traceparent');
    expect(contracts.TRACESTATE_HEADER).toBe('tracestate');
    expect(contracts.BAGGAGE_HEADER).toBe('baggage');
    expect(contracts.REQUEST_ID_HEADER).toBe('x-request-id');
    expect(contracts.SUBGRAPH_MAX_BATCH).toBe(32);
    expect(contracts.SIGNALS_TOPIC).toBe('coherence.signals.v1');
    expect(contracts.SIGNALS_DLQ_TOPIC).toBe('coherence.signals.dlq');
    expect(contracts.DEFAULT_MAX_SIGNALS_PER_BATCH).toBe(1000);
    expect(contracts.DEFAULT_MAX_FUTURE_SKEW_MS).toBe(300_000);
    expect(contracts.STORABLE_STRING_RULE).toBe('storable_string');
    expect(contracts.MIN_SIGNAL_WEIGHT).toBe(1e-6);
    expect(contracts.MAX_SIGNAL_WEIGHT).toBe(1e6);
  });
});
