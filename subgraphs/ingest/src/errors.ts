/** The ingest service's own error codes and their HTTP statuses (shared ones are in @coherence/platform). */
export const ingestErrorCodes = {
  INVALID_SIGNAL: 400,
} as const;
export type IngestErrorCode = keyof typeof ingestErrorCodes;
