import { type EdgeDecision, loadViewerRequest, type ParamReader } from '@darkroom/edge';
import type { Config } from '../config.ts';
import { parseVariants } from '../pipeline/index.ts';

/** The CloudFront Function's decision, run in this process from the same source, configured like the stack. */
export interface LocalEdge {
  /** Maps a viewer request target (path and raw query) and its Accept header to a storage key or a refusal. */
  decide(target: string, accept: string | undefined): EdgeDecision;
}

/** Loads the viewer-request function with this process's variants, private path and transform secret. */
export function createLocalEdge(config: Config): LocalEdge {
  const fn = loadViewerRequest({
    variants: parseVariants(config.worker.variants),
    privatePath: config.delivery.privatePath,
    transformSecret: config.delivery.transformSecret,
  });
  return {
    decide(target, accept) {
      const q = target.indexOf('?');
      const path = q === -1 ? target : target.slice(0, q);
      return fn.route(path, queryReader(q === -1 ? '' : target.slice(q + 1)), accept);
    },
  };
}

/** Query parameters as CloudFront hands them to the function: values as received, a repeated name null. */
export function queryReader(query: string): ParamReader {
  const values = new Map<string, string | null>();
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    values.set(name, values.has(name) ? null : eq === -1 ? '' : pair.slice(eq + 1));
  }
  return (name) => values.get(name);
}
