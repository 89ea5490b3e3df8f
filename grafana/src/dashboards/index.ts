import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { comms } from './comms';
import { gatewayOverview } from './gatewayOverview';
import { ingest } from './ingest';
import { relayGraph } from './relayGraph';
import { slo } from './slo';
import { subscriptions } from './subscriptions';
import { tenantCost } from './tenantCost';

/** Every dashboard, in the order grafana/dashboards/README.md lists them. */
export const dashboards: readonly (() => Dashboard)[] = [gatewayOverview, ingest, relayGraph, subscriptions, comms, slo, tenantCost];
