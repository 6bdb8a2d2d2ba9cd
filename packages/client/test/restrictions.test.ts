import { ACCEPTED_UPLOAD_TYPES } from '@darkroom/contract';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/src/config.ts';
import {
  checkFile,
  checkFiles,
  DEFAULT_ALLOWED_TYPES,
  formatBytes,
  typeFromName,
} from '../src/restrictions.ts';

const file = (name: string, size: number, type = '') => new File([new Uint8Array(size)], name, { type });

describe('restrictions', () => {
  it('accepts images of the default types, by MIME type or, when the browser gives none, by extension', () => {
    expect(checkFile(file('a.jpg', 10, 'image/jpeg'))).toBeUndefined();
    expect(checkFile(file('IMG_0001.HEIC', 10))).toBeUndefined(); // Windows/Chrome leave HEIC untyped
    expect(typeFromName('x.JPEG')).toBe('image/jpeg');
  });

  it('explains refused files in words a person understands', () => {
    expect(checkFile(file('report.pdf', 10, 'application/pdf'))).toEqual({
      code: 'unsupported_type',
      message:
        '“report.pdf” is of type application/pdf, which cannot be uploaded; you can upload JPEG, PNG, WEBP, AVIF, GIF, HEIC or HEIF images.',
    });
    expect(checkFile(file('notes', 10))?.message).toBe(
      '“notes” is not a recognised image type; you can upload JPEG, PNG, WEBP, AVIF, GIF, HEIC or HEIF images.',
    );
    expect(checkFile(file('big.png', 3_500_000, 'image/png'), { maxFileBytes: 2_000_000 })).toEqual({
      code: 'too_large',
      message: '“big.png” is 3.5 MB; the limit is 2 MB.',
    });
    expect(checkFile(file('empty.jpg', 0, 'image/jpeg'))).toEqual({
      code: 'too_small',
      message: '“empty.jpg” is empty.',
    });
    expect(
      checkFile(file('a.gif', 10, 'image/gif'), { allowedTypes: ['image/jpeg', 'image/png'] })?.message,
    ).toBe('“a.gif” is a GIF image, which cannot be uploaded here; you can upload JPEG or PNG images.');
    expect(checkFile(file('a.gif', 10, 'image/gif'), { allowedTypes: ['image/*'] })).toBeUndefined();
  });

  it("one list of accepted types: the contract's, the server's default and the SDK's (issue 17)", () => {
    expect(DEFAULT_ALLOWED_TYPES).toEqual(ACCEPTED_UPLOAD_TYPES);
    expect(loadConfig({}).uploads.allowedTypes).toEqual(ACCEPTED_UPLOAD_TYPES);
    expect(ACCEPTED_UPLOAD_TYPES).not.toContain('image/tiff');
  });

  it('takes TIFF only where it can be converted, and says so plainly where it cannot', () => {
    const tiff = file('scan.TIF', 10); // by extension
    expect(checkFile(tiff)).toEqual({
      code: 'unsupported_type',
      message:
        '“scan.TIF” is a TIFF image, which cannot be uploaded here; you can upload JPEG, PNG, WEBP, AVIF, GIF, HEIC or HEIF images.',
    });
    expect(checkFile(tiff, { convertTypes: ['image/tiff'] })).toBeUndefined();
  });

  it('splits a batch into accepted and rejected files, counting only accepted ones against maxFiles', () => {
    const files = [
      file('1.jpg', 5, 'image/jpeg'),
      file('x.txt', 5, 'text/plain'),
      file('2.png', 5, 'image/png'),
      file('3.png', 5, 'image/png'),
    ];
    const { accepted, rejected } = checkFiles(files, { maxFiles: 2 });
    expect(accepted.map((f) => f.name)).toEqual(['1.jpg', '2.png']);
    expect(rejected.map((r) => [r.file.name, r.code])).toEqual([
      ['x.txt', 'unsupported_type'],
      ['3.png', 'too_many_files'],
    ]);
    expect(rejected[1]!.message).toBe('You can upload at most 2 files at once; “3.png” was left out.');
  });

  it('formats sizes as file managers do', () => {
    expect([999, 1000, 1536, 2_270_000, 150_000_000, 5e9].map(formatBytes)).toEqual([
      '999 bytes',
      '1 KB',
      '1.5 KB',
      '2.3 MB',
      '150 MB',
      '5 GB',
    ]);
  });
});
