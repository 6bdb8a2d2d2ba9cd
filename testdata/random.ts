/**
 * @module Deterministic pseudo-random data for tests and fuzzers in every package, beside the test images.
 */
/** A seeded xorshift32 generator: the same seed gives the same sequence, so a failing case reproduces. */
export function xorshift(seed: number): { next(): number; random(): number; bytes(size: number): Buffer } {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  return {
    next,
    /** In [0, 1). */
    random: () => next() / 4294967296,
    bytes(size) {
      const out = Buffer.alloc(size);
      for (let i = 0; i < size; i++) out[i] = next() & 0xff;
      return out;
    },
  };
}
