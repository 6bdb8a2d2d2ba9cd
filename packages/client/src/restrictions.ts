import { ACCEPTED_UPLOAD_TYPES } from '@darkroom/contract';
import type { FileCheck, RestrictionCode, Restrictions } from './types.ts';

/** The types sent as they are: the contract's list, which is also the server's default DARKROOM_ALLOWED_TYPES. */
export const DEFAULT_ALLOWED_TYPES: readonly string[] = ACCEPTED_UPLOAD_TYPES;

const EXTENSION_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jfif: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  avif: 'image/avif',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  heic: 'image/heic',
  heif: 'image/heif',
  svg: 'image/svg+xml',
  bmp: 'image/bmp',
};

/** A MIME type from a file name's extension, or undefined. */
export function typeFromName(name: string): string | undefined {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  return ext ? EXTENSION_TYPES[ext] : undefined;
}

/** The type of a file: its own `type` (browsers leave it empty for HEIC on many systems), else its extension. */
export function fileType(file: Blob, name = fileName(file)): string {
  return (file.type || typeFromName(name) || 'application/octet-stream').toLowerCase();
}

/** A File's name, or `''` for a bare Blob. */
export function fileName(file: Blob): string {
  return 'name' in file && typeof file.name === 'string' ? file.name : '';
}

/** 1536 → "1.5 KB"; decimal units, as file managers show them. */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? Math.round(v) : Number(v.toFixed(1))} ${units[i]}`;
}

/** Whether `type` matches one of the allowed types or wildcards. */
export function typeAllowed(type: string, allowed: readonly string[]): boolean {
  return allowed.some((a) => {
    const rule = a.toLowerCase();
    return rule.endsWith('/*') ? type.startsWith(rule.slice(0, -1)) : type === rule;
  });
}

/** "image/tiff" → "TIFF": how people name an image type. */
export function typeLabel(type: string): string {
  return type.replace(/^image\//, '').toUpperCase();
}

/** "JPEG, PNG or GIF". */
export function describeTypes(allowed: readonly string[]): string {
  const names = allowed.map((t) => (t.endsWith('/*') ? `any ${t.slice(0, -2)}` : typeLabel(t)));
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : (names[0] ?? 'nothing');
}

/** Checks one file; undefined when it may be uploaded, else a code and a message for a person. */
export function checkFile(
  file: Blob,
  restrictions: Restrictions = {},
  name = fileName(file),
  type = fileType(file, name),
): { code: RestrictionCode; message: string } | undefined {
  const label = name ? `“${name}”` : 'This file';
  const allowed = restrictions.allowedTypes ?? DEFAULT_ALLOWED_TYPES;
  if (!typeAllowed(type, allowed) && !typeAllowed(type, restrictions.convertTypes ?? [])) {
    const what =
      type === 'application/octet-stream'
        ? 'is not a recognised image type'
        : /^image\/[a-z0-9.+-]+$/.test(type)
          ? `is a ${typeLabel(type)} image, which cannot be uploaded here`
          : `is of type ${type}, which cannot be uploaded`;
    return {
      code: 'unsupported_type',
      message: `${label} ${what}; you can upload ${describeTypes(allowed)} images.`,
    };
  }
  const min = restrictions.minFileBytes ?? 1;
  if (file.size < min) {
    return {
      code: 'too_small',
      message: file.size === 0 ? `${label} is empty.` : `${label} is too small (${formatBytes(file.size)}).`,
    };
  }
  if (restrictions.maxFileBytes !== undefined && file.size > restrictions.maxFileBytes) {
    return {
      code: 'too_large',
      message: `${label} is ${formatBytes(file.size)}; the limit is ${formatBytes(restrictions.maxFileBytes)}.`,
    };
  }
  return undefined;
}

/** Splits files into accepted and rejected ones (type, size, count), before any byte is sent. */
export function checkFiles<F extends Blob>(
  files: readonly F[],
  restrictions: Restrictions = {},
): FileCheck<F> {
  const result: FileCheck<F> = { accepted: [], rejected: [] };
  for (const file of files) {
    const problem = checkFile(file, restrictions);
    if (problem) {
      result.rejected.push({ file, ...problem });
    } else if (restrictions.maxFiles !== undefined && result.accepted.length >= restrictions.maxFiles) {
      const n = restrictions.maxFiles;
      result.rejected.push({
        file,
        code: 'too_many_files',
        message: `You can upload at most ${n} ${n === 1 ? 'file' : 'files'} at once; “${fileName(file) || 'this file'}” was left out.`,
      });
    } else {
      result.accepted.push(file);
    }
  }
  return result;
}
