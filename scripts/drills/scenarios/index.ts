import type { Scenario } from '../scenario';
import { kafkaDown } from './kafkaDown';
import { kafkaOutage10m } from './kafkaOutage10m';
import { killProcess } from './killProcess';
import { killSwitch } from './killSwitch';
import { neo4jDown } from './neo4jDown';
import { networkLatency } from './networkLatency';
import { postgresPrimaryRestart } from './postgresPrimaryRestart';
import { postgresReplicaDown } from './postgresReplicaDown';
import { postgresReplicaLag } from './postgresReplicaLag';
import { redisDown } from './redisDown';
import { redisSlow } from './redisSlow';
import { unleashDown } from './unleashDown';

/** Every scenario `npm run drill` knows, in the order `--help` lists them (docs/runbooks/drills.md). */
export const scenarios: readonly Scenario[] = [
  redisDown,
  redisSlow,
  neo4jDown,
  kafkaDown,
  kafkaOutage10m,
  postgresReplicaLag,
  postgresReplicaDown,
  postgresPrimaryRestart,
  unleashDown,
  networkLatency,
  killProcess,
  killSwitch,
];
