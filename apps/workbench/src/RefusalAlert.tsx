import { CombinedGraphQLErrors } from '@apollo/client/errors';
import { describeRefusal, RefusalError } from './refusals';

/** A readable sentence with the machine code for any error a view gets. */
export function messageOf(error: unknown): string {
  if (error instanceof RefusalError) return describeRefusal(error.refusal);
  if (CombinedGraphQLErrors.is(error)) {
    const first = error.errors[0];
    const code = first?.extensions?.['code'];
    return `${first?.message ?? 'the gateway answered with errors'} (${typeof code === 'string' ? code : 'GRAPHQL_ERROR'})`;
  }
  if (error instanceof Error) return `${error.message} (NETWORK_ERROR)`;
  return 'Something went wrong (UNKNOWN)';
}

export function RefusalAlert({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p role="alert" className="alert">
      {messageOf(error)}
    </p>
  );
}
