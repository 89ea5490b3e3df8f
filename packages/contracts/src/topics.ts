/** Kafka topic for signals: key = tenantId, value = one signal as JSON (an element of a batch's `signals`). */
export const SIGNALS_TOPIC = 'coherence.signals.v1';

/** Where Kafka records that fail validation go, with their issues. */
export const SIGNALS_DLQ_TOPIC = 'coherence.signals.dlq';

/** Redis pub/sub channel carrying `CoherenceChanged` messages. */
export const COHERENCE_CHANGED_CHANNEL = 'coherence.changed.v1';
