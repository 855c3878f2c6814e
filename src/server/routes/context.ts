import type { VdbService } from '../../service/service.js';

/** What every route plugin gets from buildApp. */
export interface RouteContext {
  service: VdbService;
}

/** Responses every route may give, by status, as `{"error": {"code", "message"}}`. */
export const errorResponses = {
  400: { $ref: 'Error#' },
  401: { $ref: 'Error#' },
  404: { $ref: 'Error#' },
  409: { $ref: 'Error#' },
  413: { $ref: 'Error#' },
  422: { $ref: 'Error#' },
} as const;
