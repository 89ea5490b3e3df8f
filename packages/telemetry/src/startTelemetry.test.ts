import { describe, expect, it } from 'vitest';
import { batchConfig } from './startTelemetry';

describe('batchConfig', () => {
  it('reads the OTEL_BSP_* variables sdk-trace 2 no longer reads, leaving unset ones to the SDK', () => {
    expect(batchConfig({})).toEqual({});
    expect(
      batchConfig({
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '128',
        OTEL_BSP_SCHEDULE_DELAY: '1000',
        OTEL_BSP_MAX_QUEUE_SIZE: '4096',
        OTEL_BSP_EXPORT_TIMEOUT: '',
      }),
    ).toEqual({ maxExportBatchSize: 128, scheduledDelayMillis: 1000, maxQueueSize: 4096 });
  });

  it('refuses a value that is not a positive integer, naming the variable', () => {
    expect(() => batchConfig({ OTEL_BSP_MAX_QUEUE_SIZE: 'lots' })).toThrow('OTEL_BSP_MAX_QUEUE_SIZE=lots is not a positive integer');
    expect(() => batchConfig({ OTEL_BSP_SCHEDULE_DELAY: '0' })).toThrow('OTEL_BSP_SCHEDULE_DELAY=0');
  });
});
