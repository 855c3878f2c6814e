import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Health } from '../schemas.js';

/** Liveness for load balancers and compose healthchecks; never needs the API key. */
export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'liveness probe (no auth)', security: [], response: { 200: Health } } }, async () => ({ status: 'ok' as const }));
};
