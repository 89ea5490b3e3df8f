import type { ApolloServerPlugin } from '@apollo/server';
import { TENANTS_TOUCHED_EXTENSION } from '@coherence/contracts';
import type { OperatorContext } from './resolvers';

/**
 * Tells the gateway, in the response's `extensions`, which tenants' rows the
 * operator fields returned or changed: their variables need not name a
 * tenant, and the gateway files its policy decision under each tenant touched.
 */
export const reportTenantsTouched: ApolloServerPlugin<OperatorContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, response }) {
        const touched = contextValue.operator?.tenantsTouched() ?? [];
        if (touched.length === 0 || response.body.kind !== 'single') return;
        const result = response.body.singleResult;
        result.extensions = { ...result.extensions, [TENANTS_TOUCHED_EXTENSION]: touched };
      },
    };
  },
};
