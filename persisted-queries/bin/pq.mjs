#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx pq` needs no build step.
import process from 'node:process';
import { register } from 'tsx/esm/api';

register();
const { runPq } = await import('../src/cli.ts');
process.exitCode = await runPq(process.argv.slice(2));
