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
