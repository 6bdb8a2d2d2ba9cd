// The variant grammar (DARKROOM_VARIANTS) lives with the edge, which needs it at synth time to know which
// formats each variant is stored in; the pipeline uses it from there.
export * from '@darkroom/edge/variants';
