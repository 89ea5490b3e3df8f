-- The trace of the work that sent a command (W3C traceparent, tracestate and
-- baggage as text, docs/adr/0020-traces.md), so that the worker running it
-- continues that trace: a CoherenceChanged notification's webhook delivery is
-- part of the trace of the signal that changed the score. NULL: sent outside
-- any trace (or before this column).
ALTER TABLE dispatch_commands ADD COLUMN trace_headers jsonb;
