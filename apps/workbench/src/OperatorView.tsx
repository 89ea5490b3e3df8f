import { useApolloClient, useQuery } from '@apollo/client/react';
import { useCallback, useState, type FormEvent } from 'react';
import { ConfirmDialog } from './ConfirmDialog';
import { documents, type CommandAction, type CommandAuditEntry, type OperatorCommand, type OperatorError } from './operations';
import { RefusalAlert } from './RefusalAlert';
import { useRetryAfter } from './retryAfter';

const PAGE_SIZE = 20;

interface QueueData {
  troubleshootingQueue: {
    edges: { cursor: string; node: OperatorCommand }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}
type ActionData = Record<string, { ok: OperatorCommand | null; error: OperatorError | null }>;

const mutationOf = { Retry: documents.RetryCommand, Cancel: documents.CancelCommand, Complete: documents.CompleteCommand };
const fieldOf = { Retry: 'retryCommand', Cancel: 'cancelCommand', Complete: 'completeCommand' };

/** The troubleshooting queue (comms:operate): filters, pages, a command's audit, and the operator's actions. */
export function OperatorView() {
  const [filter, setFilter] = useState({ tenantId: '', type: '' });
  const [draft, setDraft] = useState(filter);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [selected, setSelected] = useState<string>();
  const [pending, setPending] = useState<{ action: CommandAction; id: string }>();
  const [actionError, setActionError] = useState<OperatorError>();
  const [actionDone, setActionDone] = useState<string>();

  const after = cursors[cursors.length - 1] ?? null;
  const queue = useQuery<QueueData>(documents.TroubleshootingQueue, {
    variables: {
      filter: { ...(filter.tenantId === '' ? {} : { tenantId: filter.tenantId }), ...(filter.type === '' ? {} : { type: filter.type }) },
      first: PAGE_SIZE,
      after,
    },
    fetchPolicy: 'network-only',
  });
  useRetryAfter(
    queue.error,
    useCallback(() => void queue.refetch().catch(() => undefined), [queue]),
  );
  const audit = useQuery<{ commandAudit: { entries: CommandAuditEntry[]; error: OperatorError | null } }>(documents.CommandAudit, {
    variables: { id: selected ?? '' },
    skip: selected === undefined,
    fetchPolicy: 'network-only',
  });
  const client = useApolloClient();
  const [actionFailure, setActionFailure] = useState<unknown>();

  const applyFilters = (event: FormEvent) => {
    event.preventDefault();
    setFilter(draft);
    setCursors([null]);
  };

  const confirm = async (reason: string) => {
    if (pending === undefined) return;
    const { action: name, id } = pending;
    setPending(undefined);
    setActionError(undefined);
    setActionDone(undefined);
    setActionFailure(undefined);
    const result = await client.mutate<ActionData>({ mutation: mutationOf[name], variables: { id, reason } }).catch((failure: unknown) => {
      setActionFailure(failure);
      return undefined;
    });
    const payload = result?.data?.[fieldOf[name]];
    if (payload?.error) setActionError(payload.error);
    if (payload?.ok) setActionDone(`${name} ${id}: now ${payload.ok.status}`);
    setSelected(id);
    await Promise.all([queue.refetch(), audit.refetch()]).catch(() => undefined);
  };

  const page = queue.data?.troubleshootingQueue;
  return (
    <section aria-labelledby="queue-heading">
      <h2 id="queue-heading">Troubleshooting queue</h2>
      <form aria-label="Queue filters" className="filters" onSubmit={applyFilters}>
        <label htmlFor="filter-tenant">Tenant filter</label>
        <input id="filter-tenant" value={draft.tenantId} onChange={(event) => setDraft({ ...draft, tenantId: event.target.value })} />
        <label htmlFor="filter-type">Type filter</label>
        <input id="filter-type" value={draft.type} onChange={(event) => setDraft({ ...draft, type: event.target.value })} />
        <button type="submit">Apply filters</button>
      </form>
      <RefusalAlert error={queue.error} />
      <RefusalAlert error={actionFailure} />
      {actionError === undefined ? null : (
        <p role="alert" className="alert">
          The action was refused: {actionError.message} ({actionError.code})
        </p>
      )}
      {actionDone === undefined ? null : <p role="status">{actionDone}</p>}
      <div className="scroll">
        <table aria-label="Troubleshooting queue" className="cards">
          <thead>
            <tr>
              <th scope="col">Command</th>
              <th scope="col">Actions</th>
              <th scope="col">Tenant</th>
              <th scope="col">Type</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {(page?.edges ?? []).map(({ node }) => (
              <tr key={node.id}>
                <th scope="row">{node.id}</th>
                <td className="actions">
                  <button type="button" aria-label={`Audit ${node.id}`} onClick={() => setSelected(node.id)}>
                    Audit
                  </button>
                  {(['Retry', 'Cancel', 'Complete'] as const).map((name) => (
                    <button
                      key={name}
                      type="button"
                      aria-label={`${name} ${node.id}`}
                      onClick={() => setPending({ action: name, id: node.id })}
                    >
                      {name}
                    </button>
                  ))}
                </td>
                <td data-label="Tenant">{node.tenantId}</td>
                <td data-label="Type">{node.type}</td>
                <td data-label="Status">{node.status}</td>
                <td data-label="Attempts">
                  {node.attempts}/{node.maxAttempts}
                </td>
                <td data-label="Last error">{node.lastError ? `${node.lastError.code}: ${node.lastError.message}` : 'none'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {page && page.edges.length === 0 ? <p>No commands are waiting for an operator.</p> : null}
      <div className="actions">
        <button type="button" disabled={cursors.length === 1} onClick={() => setCursors([null])}>
          First page
        </button>
        <button
          type="button"
          disabled={!page?.pageInfo.hasNextPage}
          onClick={() => page?.pageInfo.endCursor && setCursors([...cursors, page.pageInfo.endCursor])}
        >
          Next page
        </button>
      </div>
      {selected === undefined ? null : (
        <section aria-labelledby="audit-heading">
          <h3 id="audit-heading">Audit trail of {selected}</h3>
          <RefusalAlert error={audit.error} />
          {audit.data?.commandAudit.error ? (
            <p role="alert" className="alert">
              {audit.data.commandAudit.error.message} ({audit.data.commandAudit.error.code})
            </p>
          ) : null}
          <div className="scroll">
            <table aria-label="Audit trail" className="cards">
              <thead>
                <tr>
                  <th scope="col">At</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">From</th>
                  <th scope="col">To</th>
                  <th scope="col">Reason</th>
                </tr>
              </thead>
              <tbody>
                {(audit.data?.commandAudit.entries ?? []).map((entry) => (
                  <tr key={entry.id}>
                    <td data-label="At">{entry.at}</td>
                    <td data-label="Actor">{entry.actor}</td>
                    <td data-label="Action">{entry.action}</td>
                    <td data-label="From">{entry.from ?? ''}</td>
                    <td data-label="To">{entry.to}</td>
                    <td data-label="Reason">{entry.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      {pending === undefined ? null : (
        <ConfirmDialog
          title={`${pending.action} command ${pending.id}`}
          onConfirm={(reason) => void confirm(reason)}
          onClose={() => setPending(undefined)}
        />
      )}
    </section>
  );
}
