// libheif-js ships no types for its ESM WASM bundle; this is the part the SDK uses.
declare module 'libheif-js/libheif-wasm/libheif-bundle.mjs' {
  const factory: () => unknown;
  export default factory;
}
