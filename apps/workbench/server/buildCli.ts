// `npm run build -w @coherence/workbench`: builds dist/ (skipped when it is up to date).
import { buildWorkbench } from './buildWorkbench';

const result = await buildWorkbench({ force: process.argv.includes('--force') });
console.log(`${result.built ? 'built' : 'up to date'}: ${result.distDir} (${Math.round(result.durationMs)} ms)`);
