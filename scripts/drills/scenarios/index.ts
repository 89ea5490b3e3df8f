import type { Scenario } from '../scenario';
import { killProcess } from './killProcess';
import { killSwitch } from './killSwitch';

/** Every drill `npm run drill` knows, in the order `--help` lists them. */
export const scenarios: readonly Scenario[] = [killProcess, killSwitch];
