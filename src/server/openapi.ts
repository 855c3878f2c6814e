/**
 * Touches to the OpenAPI document that @fastify/swagger derives from the route
 * schemas, where the schema language and the document part ways.
 */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Query bodies take a text or an embedding, never both (the service refuses both, with its own message). */
const EXACTLY_ONE: Record<string, string[]> = { '/api/v1/libraries/{lib}/query': ['text', 'embedding'] };

/**
 * - Query-string parameters with a default are optional (the validator fills
 *   the default in), though the schema lists them as required.
 * - The query body is one of a text query or an embedding query.
 */
export function transformOpenapi(doc: { openapiObject: Json } | { swaggerObject: Json }): Json {
  if (!('openapiObject' in doc)) return doc.swaggerObject;
  const { openapiObject } = doc;
  for (const [path, item] of Object.entries<Json>(openapiObject.paths ?? {})) {
    for (const op of Object.values<Json>(item)) {
      for (const p of op.parameters ?? []) {
        if (p.in === 'query' && p.schema?.default !== undefined) p.required = false;
      }
      const fields = EXACTLY_ONE[path];
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (fields && schema) schema.oneOf = fields.map((f) => ({ required: [f] }));
    }
  }
  return openapiObject;
}
