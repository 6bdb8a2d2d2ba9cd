// The S3 behaviour suite against the embedded server (always, and first: it is the reference lane).
import { describeS3Suite } from './conformance/index.ts';
import { embeddedTarget } from './conformance/targets.ts';

describeS3Suite({
  label: 'embedded S3 server',
  start: embeddedTarget,
  capabilities: { virtualHostLocalhost: true },
  skips: {},
});
