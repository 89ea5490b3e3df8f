import type { Histogram } from 'prom-client';
import type { GatewayStep } from './GatewayStep';

/**
 * The steps, each timing its `onRequest` into `seconds` under its name
 * (`gateway_step_seconds`), refused or not: what each security step costs a
 * request, measured in place, since none may be switched off in production
 * (`npm run bench:gateway` prints it).
 */
export function timeSteps(steps: GatewayStep[], seconds: Histogram<'step'>): GatewayStep[] {
  return steps.map((step) => {
    const { onRequest } = step;
    if (onRequest === undefined) return step;
    return {
      ...step,
      async onRequest(context) {
        const startedAt = performance.now();
        try {
          return await onRequest.call(step, context);
        } finally {
          seconds.observe({ step: step.name }, (performance.now() - startedAt) / 1_000);
        }
      },
    };
  });
}
