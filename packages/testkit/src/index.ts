export { createGatewayCalls, type GatewayCalls } from './gatewayCalls';
export { coherenceChangedFor, type TestChange } from './coherenceChangedFor';
export { signalsAcceptedEventFor, appendOutboxEvents, type TestSignal } from './outboxEvents';
export { createRoleSessions, seedCommsTargets } from './roleSessions';
export { deleteGraphOf } from './graphCleanup';
