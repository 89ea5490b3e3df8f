import { fileURLToPath } from 'node:url';

export { commsTypeDefs, createCommsService } from './createCommsService';
export { readCommsConfig, readCommsWorkerConfig, type CommsConfig, type CommsWorkerConfig } from './config';
export { createWorkerService } from './worker/createWorkerService';
export {
  createBusWorker,
  type BusWorker,
  type BusWorkerOptions,
  type ClaimedCommand,
  type CommandHandler,
  type HandlerOutcome,
} from './bus/createBusWorker';
export { sendCommand, COMMS_DISPATCH_CHANNEL, type SendResult } from './bus/sendCommand';
export { CommandFailure, commandFailureCodes, operatorErrorCodes, inboundErrorCodes } from './errors';
export { createChangeListener, isNotifiable } from './listener/createChangeListener';
export { NOTIFY_WEBHOOK } from './delivery/createWebhookHandler';
export { computeTwilioSignature, isValidTwilioSignature } from './inbound/twilioSignature';

/** SQL migrations owned by comms; run after ingest's (which creates the roles) and the gateway's (`tenants`, read by the operator API). */
export const commsMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
