import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifyServerOptions } from 'fastify';

/**
 * Request validation without type coercion where types are real. A JSON body is typed: `"size":"100"` is a
 * string, and a 400 names the field (`body/size must be integer`); Fastify's default Ajv would quietly make
 * it a number. A query string, path or header is text by nature, so there, and only there, a value is read
 * as the number or boolean its schema declares (`?limit=10`), and refused when it is not one (`?limit=ten`).
 */
const COMMON = { removeAdditional: false, allErrors: false, useDefaults: true } as const;

/** Fastify's schema controller: one Ajv for bodies (no coercion), one for the URL and headers. */
export function strictSchemaController(): NonNullable<FastifyServerOptions['schemaController']> {
  // Each factory pools its Ajv instances by the shared schemas they hold, as Fastify's default does.
  const bodies = AjvCompiler();
  const text = AjvCompiler();
  return {
    compilersFactory: {
      buildValidator(externalSchemas, ajvOptions) {
        const plugins = ajvOptions?.plugins ?? [];
        const body = bodies(externalSchemas, { plugins, customOptions: { ...COMMON, coerceTypes: false } });
        const url = text(externalSchemas, { plugins, customOptions: { ...COMMON, coerceTypes: true } });
        return (route) => (route.httpPart === 'body' ? body(route) : url(route));
      },
    },
  };
}
