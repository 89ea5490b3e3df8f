import type { FormattedExecutionResult } from 'graphql';

/** An operation Apollo has run, before it is written out: the cache reads `result` itself rather than re-parsing a body. */
export interface ExecutedOperation {
  status: number;
  headers: [string, string][];
  result: FormattedExecutionResult;
}

/** What goes back to the client. */
export interface GatewayResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

/** The content type Apollo answers a request without an `accept` header with (cached answers carry it too). */
export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * The body as Apollo writes it: `errors`, `data`, `extensions` in that
 * order, newline-terminated, so an answer reads the same whether it was run
 * now or came from the cache.
 */
export function serializeResult(result: FormattedExecutionResult): string {
  return `${JSON.stringify({ errors: result.errors, data: result.data, extensions: result.extensions })}\n`;
}

export function toGatewayResponse(executed: ExecutedOperation): GatewayResponse {
  return { status: executed.status, headers: executed.headers, body: serializeResult(executed.result) };
}
