import { randomBytes } from 'node:crypto';
import { REQUEST_ID_HEADER, TRACEPARENT_HEADER, TRACESTATE_HEADER } from './headers';
import { isCorrelationId } from './scalars';

// W3C Trace Context Level 1: https://www.w3.org/TR/trace-context/

/** The only `traceparent` version this module writes. */
export const TRACEPARENT_VERSION = '00';

/** The `sampled` bit of `traceFlags`. */
export const TRACE_FLAG_SAMPLED = 0x01;

/** Most list members a `tracestate` may carry. */
export const TRACESTATE_MAX_MEMBERS = 32;

/** Length to which {@link formatTracestate} truncates by default (the spec's propagation minimum). */
export const TRACESTATE_DEFAULT_MAX_LENGTH = 512;

/**
 * A parsed `traceparent`. No `version` field: whatever version came in, the
 * spec requires re-emitting it as the highest version we know (`00`).
 */
export interface TraceParent {
  /** 32 lowercase hex, not all zeros. */
  traceId: string;
  /** 16 lowercase hex, not all zeros: the span id of the sender. */
  parentId: string;
  /** 8-bit flags; bit 0 is "sampled". */
  traceFlags: number;
}

/** One `key=value` member of a `tracestate`. */
export interface TraceStateMember {
  key: string;
  value: string;
}

/** Header values as Node gives them (`req.headers`); names are matched case-insensitively. */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

/** The trace context of the current unit of work (request, message handling). */
export interface TraceContext {
  /** This hop's span context: send it downstream via {@link injectTraceContext}. */
  traceparent: TraceParent;
  /** Normalised `tracestate`, present only when one came in with a valid `traceparent`. */
  tracestate?: string;
  /** Log/correlation id: the legacy `x-request-id` when it alone came in (and is trusted), else the trace id. */
  requestId: string;
  /** The caller's `x-request-id` when it is a valid one: kept apart, for the logs and audit rows of an edge that does not trust it. */
  clientRequestId?: string;
  /** The caller's span id when an incoming trace was continued; absent for a new trace. */
  remoteParentId?: string;
}

const TRACEPARENT_LENGTH = 55;
// Guards the parser, not the spec: a header this long is an attack or a bug.
const TRACEPARENT_MAX_LENGTH = 512;
// These headers arrive before authentication, on every listener. Each pattern
// is anchored, no two of its quantifiers can match the same text, and it only
// sees input whose length was checked first, so matching stays linear.
// Trimming is an index scan: `/[ \t]+$/` is quadratic on a long run of blanks
// followed by anything else (0.2-0.3 s for 16 KB, 5 s for 64 KB).
const HEX2 = /^[0-9a-f]{2}$/;
const TRACE_ID = /^[0-9a-f]{32}$/;
const PARENT_ID = /^[0-9a-f]{16}$/;
const ALL_ZEROS = /^0+$/;
const SIMPLE_KEY = /^[a-z][a-z0-9_\-*/]{0,255}$/;
const MULTI_TENANT_KEY = /^[a-z0-9][a-z0-9_\-*/]{0,240}@[a-z][a-z0-9_\-*/]{0,13}$/;
// chr = %x20 / nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E (no ',' or '=').
// The spec's "last char is a nblk-chr" is checked apart, not as a second class.
const VALUE_CHARS = /^[\x20-\x2b\x2d-\x3c\x3e-\x7e]+$/;
const KEY_MAX_LENGTH = 256;
const VALUE_MAX_LENGTH = 256;
const MEMBER_TRUNCATION_LENGTH = 128;
// The longest `tracestate` a sender keeping to the spec can write: 32 members
// of a 256-character key, `=` and a 256-character value, joined by `, ` (the
// one space is the optional whitespace the spec says to generate). Anything
// longer is padding or more than 32 members; the spec lets a vendor discard a
// header it cannot parse, so it is ignored whole rather than scanned. This
// bounds what is read; what is sent on is bounded by formatTracestate (512).
const TRACESTATE_MAX_HEADER_LENGTH = TRACESTATE_MAX_MEMBERS * (KEY_MAX_LENGTH + 1 + VALUE_MAX_LENGTH) + (TRACESTATE_MAX_MEMBERS - 1) * 2;

/**
 * Parses a `traceparent` header; returns null when it must be ignored (and a
 * new trace started). Version `00` must be exactly
 * `00-<32 hex>-<16 hex>-<2 hex>`, lowercase, ids not all zeros. A higher
 * version (not `ff`) is accepted when its first four fields parse like `00`
 * and are followed by the end or a `-`; only its sampled bit is kept, since
 * the other flags mean nothing we know.
 */
export function parseTraceparent(header: string): TraceParent | null {
  if (header.length < TRACEPARENT_LENGTH || header.length > TRACEPARENT_MAX_LENGTH) return null;
  const version = header.slice(0, 2);
  if (!HEX2.test(version) || version === 'ff') return null;
  if (version === TRACEPARENT_VERSION && header.length !== TRACEPARENT_LENGTH) return null;
  if (header.length > TRACEPARENT_LENGTH && header[TRACEPARENT_LENGTH] !== '-') return null;
  if (header[2] !== '-' || header[35] !== '-' || header[52] !== '-') return null;
  const traceId = header.slice(3, 35);
  const parentId = header.slice(36, 52);
  const flags = header.slice(53, 55);
  if (!TRACE_ID.test(traceId) || ALL_ZEROS.test(traceId)) return null;
  if (!PARENT_ID.test(parentId) || ALL_ZEROS.test(parentId)) return null;
  if (!HEX2.test(flags)) return null;
  const traceFlags = Number.parseInt(flags, 16);
  return {
    traceId,
    parentId,
    traceFlags: version === TRACEPARENT_VERSION ? traceFlags : traceFlags & TRACE_FLAG_SAMPLED,
  };
}

/** Writes a version-`00` `traceparent`. Does not validate; build values with the functions here. */
export function formatTraceparent(traceparent: TraceParent): string {
  const flags = (traceparent.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `${TRACEPARENT_VERSION}-${traceparent.traceId}-${traceparent.parentId}-${flags}`;
}

/** Options for {@link createTraceparent}. */
export interface CreateTraceparentOptions {
  /** Set the sampled flag. Default `true`. */
  sampled?: boolean;
}

/** Starts a new trace: random trace id and span id from `node:crypto`, sampled by default. */
export function createTraceparent(options: CreateTraceparentOptions = {}): TraceParent {
  const sampled = options.sampled ?? true;
  return {
    traceId: randomNonZeroHex(16),
    parentId: randomNonZeroHex(8),
    traceFlags: sampled ? TRACE_FLAG_SAMPLED : 0,
  };
}

/** A new span in the same trace: same trace id and flags, fresh span id. */
export function childTraceparent(parent: TraceParent): TraceParent {
  return { traceId: parent.traceId, parentId: randomNonZeroHex(8), traceFlags: parent.traceFlags };
}

/** True when the sampled flag is set. */
export function isSampled(traceparent: TraceParent): boolean {
  return (traceparent.traceFlags & TRACE_FLAG_SAMPLED) === TRACE_FLAG_SAMPLED;
}

function randomNonZeroHex(bytes: number): string {
  // All zeros is the spec's "invalid" value; at 2^-64 odds a retry costs nothing.
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    if (!ALL_ZEROS.test(hex)) return hex;
  }
}

/** True when `key` is a valid `tracestate` key (simple or `tenant@system`). */
export function isTracestateKey(key: string): boolean {
  return key.length <= KEY_MAX_LENGTH && (SIMPLE_KEY.test(key) || MULTI_TENANT_KEY.test(key));
}

/** True when `value` is a valid `tracestate` value (1..256 printable chars, no `,` or `=`, no trailing space). */
export function isTracestateValue(value: string): boolean {
  return value.length <= VALUE_MAX_LENGTH && VALUE_CHARS.test(value) && !value.endsWith(' ');
}

/**
 * Parses `tracestate` (one header or several, which the spec says to join with
 * `,`). Drops invalid members and repeated keys (the leftmost, most recent
 * one wins) and keeps at most 32 members, leftmost first. A combined header
 * longer than 32 of the longest members (16,478 characters) is ignored whole.
 */
export function parseTracestate(header: string | readonly string[]): TraceStateMember[] {
  const joined = typeof header === 'string' ? header : header.join(',');
  if (joined.length > TRACESTATE_MAX_HEADER_LENGTH) return [];
  const members: TraceStateMember[] = [];
  const seen = new Set<string>();
  for (const raw of joined.split(',')) {
    const member = trimOptionalWhitespace(raw);
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) continue;
    const key = member.slice(0, eq);
    const value = member.slice(eq + 1);
    if (!isTracestateKey(key) || !isTracestateValue(value) || seen.has(key)) continue;
    seen.add(key);
    members.push({ key, value });
    if (members.length === TRACESTATE_MAX_MEMBERS) break;
  }
  return members;
}

/**
 * Writes `tracestate` from members, dropping invalid and repeated ones and
 * capping at 32. When the result exceeds `maxLength` (default 512) it
 * truncates as the spec suggests: first drop members longer than 128
 * characters, rightmost first, then drop from the right until it fits.
 */
export function formatTracestate(members: readonly TraceStateMember[], maxLength: number = TRACESTATE_DEFAULT_MAX_LENGTH): string {
  const seen = new Set<string>();
  let entries: string[] = [];
  for (const { key, value } of members) {
    if (!isTracestateKey(key) || !isTracestateValue(value) || seen.has(key)) continue;
    seen.add(key);
    entries.push(`${key}=${value}`);
    if (entries.length === TRACESTATE_MAX_MEMBERS) break;
  }
  // At most 32 entries, so re-joining per step stays cheap.
  const length = (list: readonly string[]): number => list.join(',').length;
  for (let i = entries.length - 1; i >= 0 && length(entries) > maxLength; i -= 1) {
    if ((entries[i] ?? '').length > MEMBER_TRUNCATION_LENGTH) entries = entries.filter((_, j) => j !== i);
  }
  while (entries.length > 0 && length(entries) > maxLength) entries = entries.slice(0, -1);
  return entries.join(',');
}

/**
 * The trace context for work triggered by an incoming request or message.
 *
 * - A valid `traceparent` is continued: the result keeps its trace id and
 *   flags with a new span id for this hop (`remoteParentId` is the caller's),
 *   and its `tracestate` is normalised and kept.
 * - Otherwise a new sampled trace starts and any `tracestate` is ignored, as
 *   the spec requires.
 * - `requestId` is the incoming `x-request-id` only when no valid
 *   `traceparent` came with it (legacy callers) and `trustRequestId` is not
 *   false; otherwise the trace id. A request id that is not 1..128 visible
 *   ASCII is ignored; a valid one is also `clientRequestId`.
 *
 * Works for message envelopes too: pass `{ traceparent, tracestate, 'x-request-id': correlationId }`.
 */
export function extractTraceContext(headers: IncomingHeaders, options: ExtractTraceContextOptions = {}): TraceContext {
  const sentRequestId = singleHeader(headers, REQUEST_ID_HEADER);
  const clientRequestId = sentRequestId !== undefined && isCorrelationId(sentRequestId) ? sentRequestId : undefined;
  const client = clientRequestId === undefined ? {} : { clientRequestId };
  const traceparentHeader = singleHeader(headers, TRACEPARENT_HEADER);
  const incoming = traceparentHeader === undefined ? null : parseTraceparent(traceparentHeader);
  if (incoming !== null) {
    const traceparent = childTraceparent(incoming);
    const tracestateHeader = headerValue(headers, TRACESTATE_HEADER);
    const tracestate = tracestateHeader === undefined ? '' : formatTracestate(parseTracestate(tracestateHeader));
    return {
      traceparent,
      ...(tracestate === '' ? {} : { tracestate }),
      requestId: traceparent.traceId,
      ...client,
      remoteParentId: incoming.parentId,
    };
  }
  const traceparent = createTraceparent();
  const trusted = options.trustRequestId ?? true;
  return { traceparent, requestId: trusted && clientRequestId !== undefined ? clientRequestId : traceparent.traceId, ...client };
}

/** Options for {@link extractTraceContext}. */
export interface ExtractTraceContextOptions {
  /**
   * Let a lone `x-request-id` become `requestId`. Default `true` (services
   * behind the gateway, message envelopes); an internet-facing edge passes
   * `false` so its correlation id is always a trace id it continued or
   * started, never a string a client chose.
   */
  trustRequestId?: boolean;
}

/** Headers to send downstream: `traceparent`, `tracestate` (if any) and `x-request-id`. */
export function injectTraceContext(context: TraceContext): Record<string, string> {
  const headers: Record<string, string> = { [TRACEPARENT_HEADER]: formatTraceparent(context.traceparent) };
  if (context.tracestate !== undefined && context.tracestate !== '') {
    headers[TRACESTATE_HEADER] = context.tracestate;
  }
  headers[REQUEST_ID_HEADER] = context.requestId;
  return headers;
}

function trimOptionalWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isOptionalWhitespace(text.charCodeAt(start))) start += 1;
  while (end > start && isOptionalWhitespace(text.charCodeAt(end - 1))) end -= 1;
  return text.slice(start, end);
}

// OWS in RFC 7230: space or horizontal tab.
function isOptionalWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

function headerValue(headers: IncomingHeaders, name: string): string | string[] | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && key.toLowerCase() === name) return value;
  }
  return undefined;
}

// A header that must occur once: repeated values make it ambiguous, so it is
// treated as absent (for traceparent the spec says to restart the trace).
function singleHeader(headers: IncomingHeaders, name: string): string | undefined {
  const value = headerValue(headers, name);
  if (Array.isArray(value)) return value.length === 1 ? value[0] : undefined;
  return value;
}
