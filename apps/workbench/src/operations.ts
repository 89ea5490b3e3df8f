// The app sends the repository's persisted operations (persisted-queries/operations,
// gated by `pq check`), imported as parsed documents: the bundle holds no operation text.
import CancelCommand from '@coherence/persisted-queries/operations/CancelCommand.graphql';
import CommandAudit from '@coherence/persisted-queries/operations/CommandAudit.graphql';
import CompleteCommand from '@coherence/persisted-queries/operations/CompleteCommand.graphql';
import RetryCommand from '@coherence/persisted-queries/operations/RetryCommand.graphql';
import TenantCoherence from '@coherence/persisted-queries/operations/TenantCoherence.graphql';
import TenantCoherenceHistory from '@coherence/persisted-queries/operations/TenantCoherenceHistory.graphql';
import TroubleshootingQueue from '@coherence/persisted-queries/operations/TroubleshootingQueue.graphql';
import persistedIds from 'virtual:persisted-ids';

export const documents = {
  TenantCoherence,
  TenantCoherenceHistory,
  TroubleshootingQueue,
  CommandAudit,
  RetryCommand,
  CancelCommand,
  CompleteCommand,
};

/** The persisted id of an operation by name (the subscription goes over graphql-ws without Apollo's link). */
export function persistedIdOf(name: string): string {
  // The last entry of a name is its current version (a changed operation keeps its old id until `pq prune`).
  const found = persistedIds.operations.findLast((operation) => operation.name === name);
  if (found === undefined) throw new Error(`operation ${name} is not in the persisted-operations manifest`);
  return found.id;
}

export const persistedManifest = persistedIds;

export type CoherenceStatus = 'HEALTHY' | 'WARN' | 'CRITICAL' | 'UNKNOWN';

export interface SourceScore {
  source: string;
  score: number;
  count: number;
  /** Σ of the source's signal weights in the window; null for a score stored before weights were recorded. */
  weight: number | null;
}

export interface CoherenceScore {
  tenantId: string;
  score: number | null;
  status: CoherenceStatus;
  agreement: number | null;
  window: string;
  asOf?: string | null;
  updatedAt: string | null;
  sources: SourceScore[];
}

export interface CoherenceHistoryPage {
  /** Newest first. */
  points: { score: number | null; status: CoherenceStatus; changedAt: string }[];
  nextBefore: string | null;
}

export interface OperatorCommand {
  id: string;
  tenantId: string;
  type: string;
  status: string;
  attempts: number;
  maxAttempts: number;
  runAfter: string;
  createdAt: string;
  updatedAt: string;
  lastError: { code: string; kind: string; message: string } | null;
}

export interface OperatorError {
  code: string;
  message: string;
}

export interface CommandAuditEntry {
  id: string;
  actor: string;
  action: string;
  from: string | null;
  to: string;
  reason: string;
  at: string;
}

export type CommandAction = 'Retry' | 'Cancel' | 'Complete';
