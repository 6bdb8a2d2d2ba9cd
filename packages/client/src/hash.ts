/** SHA-256 of bytes with WebCrypto (browsers and Node 20 alike). */
export async function sha256(data: ArrayBuffer | Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

/** Base64 of bytes without Buffer (browsers). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * SHA-256 (base64) of a Blob. WebCrypto has no streaming digest, so the whole Blob is read once;
 * the SDK only hashes what it sends, which processing has usually shrunk.
 */
export async function sha256Blob(blob: Blob): Promise<string> {
  return toBase64(await sha256(await blob.arrayBuffer()));
}
