/** Every flag the services read, by the name it has on the Unleash server. */
export const flagNames = {
  /** Kill switch: off answers coherence reads and subscriptions with FEATURE_DISABLED (ingest keeps accepting). */
  coherence: 'v24.coherence',
  /** On: the gateway sends its region as a hint and the coherence subgraph reads that region's replica. */
  regionRouting: 'region-routing',
  /** Kill switch: off pauses comms' outbound delivery (workers claim nothing; commands wait, none is lost). Reads go on. */
  commsNotifications: 'comms.notifications',
} as const;

export type FlagName = (typeof flagNames)[keyof typeof flagNames];

export const allFlagNames: readonly FlagName[] = Object.values(flagNames);

/**
 * What a service assumes before it has heard from Unleash (and if it never
 * does): serve coherence, read from the primary, deliver notifications. A
 * kill switch must fail open, or an Unleash outage at deploy time would
 * switch the product off.
 */
export const defaultFlagStates: Readonly<Record<FlagName, boolean>> = {
  'v24.coherence': true,
  'region-routing': false,
  'comms.notifications': true,
};
