/**
 * Every machine-readable code comms produces, in one place
 * (docs/runbooks/comms.md lists them; errors.test.ts keeps the two in step).
 */

/** Why a command failed, and whether a retry can help. Stored in `dispatch_commands.last_error`. */
export const commandFailureCodes = {
  /** No handler is registered for the command's type. */
  UNKNOWN_COMMAND_TYPE: 'permanent',
  /** The payload does not match what the handler needs. */
  INVALID_PAYLOAD: 'permanent',
  /** The receiver answered 4xx (other than 429). */
  WEBHOOK_REJECTED: 'permanent',
  /** The receiver answered 5xx, or a redirect loop / unexpected status. */
  WEBHOOK_UNAVAILABLE: 'transient',
  /** The receiver answered 429. */
  WEBHOOK_RATE_LIMITED: 'transient',
  /** No answer within the delivery timeout. */
  WEBHOOK_TIMEOUT: 'transient',
  /** DNS or TCP/TLS failure. */
  WEBHOOK_NETWORK: 'transient',
  /** The URL resolves to a refused range (SSRF guard). */
  URL_BLOCKED: 'permanent',
  /** A handler threw something that is not a classified failure. */
  HANDLER_CRASHED: 'transient',
  /** The quiet-hours policy could not decide, deferral after deferral (see MAX_POLICY_ERROR_DEFERRALS). */
  QUIET_HOURS_POLICY_ERROR: 'permanent',
  /** The command used up its attempts by killing or stalling workers (lease expiries). */
  ATTEMPTS_EXHAUSTED: 'permanent',
} as const;
export type CommandFailureCode = keyof typeof commandFailureCodes;
export type FailureKind = (typeof commandFailureCodes)[CommandFailureCode];

/** A classified handler failure: transient ones are retried with backoff, permanent ones go to troubleshooting. */
export class CommandFailure extends Error {
  constructor(
    readonly code: CommandFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }

  get kind(): FailureKind {
    return commandFailureCodes[this.code];
  }
}

/** Expected failures of the operator API, returned as typed payloads (never thrown). */
export const operatorErrorCodes = {
  COMMAND_NOT_FOUND: 'no command has this id',
  INVALID_TRANSITION: 'the command is not in a state this action applies to',
  REASON_REQUIRED: 'a non-empty reason is required',
  INVALID_ARGUMENT: 'an argument is malformed (cursor, date-time, page size, over-long reason)',
} as const;
export type OperatorErrorCode = keyof typeof operatorErrorCodes;

/** HTTP answers of the inbound provider webhooks. */
export const inboundErrorCodes = {
  SIGNATURE_INVALID: 403,
  /** A validly signed message received before, more than TWILIO_REPLAY_WINDOW_MS ago. */
  REPLAYED: 403,
  UNKNOWN_TENANT: 404,
  INVALID_PAYLOAD: 400,
} as const;
export type InboundErrorCode = keyof typeof inboundErrorCodes;
