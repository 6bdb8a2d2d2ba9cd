import type { Processor } from '../prepare.ts';
import type { Transport } from '../send.ts';
import type { ResumeStore } from '../types.ts';

/**
 * What the SDK needs from the runtime it runs in. One implementation per platform, chosen by the package's
 * `#platform` import conditions (`browser` or Node), so a bundler never sees the other platform's modules.
 */
export interface Platform {
  /** Sends bytes to storage with upload progress. */
  transport: Transport;
  /** The image processor, or undefined when this runtime has none (Node without sharp). */
  processor(): Promise<Processor | undefined>;
  /** Types outside the accepted list that the processor decodes, so they can be converted before upload. */
  convertTypes: readonly string[];
  /** Where resume records live unless the caller says otherwise. */
  resumeStore(): ResumeStore;
  /** Opens a file system path as a File, lazily read; throws where there is no file system. */
  openPath(path: string): Promise<File>;
  /** The absolute form of a path (kept in resume records). */
  absolutePath(path: string): string;
}
