// Which uploader and API client the hooks and components below a <DarkroomProvider> use.
import type { ApiClientLike, Uploader } from '@darkroom/client';
import { createContext, createElement, type ReactNode, useContext, useMemo } from 'react';

/** What a <DarkroomProvider> hands down. */
export interface DarkroomContextValue {
  uploader: Uploader | undefined;
  /** The API client <DarkroomImage id> fetches with: `api`, else the uploader's. */
  api: ApiClientLike | undefined;
}

const DarkroomContext = createContext<DarkroomContextValue>({ uploader: undefined, api: undefined });

/** Props of {@link DarkroomProvider}. */
export interface DarkroomProviderProps {
  /** From `createUploader(…)`: create it once (module scope or `useMemo`), not on every render. */
  uploader?: Uploader;
  /** An API client of its own, e.g. for pages that only show images. Default: `uploader.api`. */
  api?: ApiClientLike;
  children?: ReactNode;
}

/**
 * Makes an uploader (and its API client) available to `useUpload()` and `<DarkroomImage id>` below it.
 * @example
 * const uploader = createUploader({ endpoint: 'https://api.example.com', token: getToken });
 * root.render(<DarkroomProvider uploader={uploader}><App /></DarkroomProvider>);
 */
export function DarkroomProvider({ uploader, api, children }: DarkroomProviderProps): ReactNode {
  const value = useMemo(() => ({ uploader, api: api ?? uploader?.api }), [uploader, api]);
  return createElement(DarkroomContext.Provider, { value }, children);
}

/** The nearest provider's uploader and API client (both undefined without one). */
export function useDarkroom(): DarkroomContextValue {
  return useContext(DarkroomContext);
}
