import type { ImageErrorCode } from '@darkroom/contract';

/**
 * Stable, machine-readable reasons a developed image can fail. They end up in the image record
 * (`error.code`) and are part of the public contract: add codes, never rename them.
 *
 * A `PipelineError` is PERMANENT: the same bytes will fail the same way, so the worker should mark the
 * image `failed` and not retry. Any other error thrown by `developImage` (disk full, abort, a bug) is
 * transient or internal and may be retried.
 */
export type PipelineErrorCode = Extract<
  ImageErrorCode,
  'unsupported_type' | 'too_many_pixels' | 'corrupt_image' | 'too_large' | 'empty_file'
>;

export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  readonly code: PipelineErrorCode;

  constructor(code: PipelineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isPipelineError(err: unknown): err is PipelineError {
  return err instanceof PipelineError;
}
