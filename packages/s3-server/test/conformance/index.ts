/**
 * @module The project's S3 behaviour suite as one function of a target: `describeS3Suite(lane)` runs every
 * group against the lane's endpoint. `embedded.test.ts` and `rgw.test.ts` are the lanes.
 */
import { authSuite } from './auth.ts';
import { browserSuite } from './browser.ts';
import { conditionalSuite } from './conditional.ts';
import { curlSuite } from './curl.ts';
import { edgeSuite } from './edge.ts';
import { listingSuite } from './listing.ts';
import { multipartSuite } from './multipart.ts';
import { objectsSuite } from './objects.ts';
import { partsSuite } from './parts.ts';
import { SuiteContext, type SuiteLane } from './suite.ts';
import { taggingSuite } from './tagging.ts';

export type { Deviations, S3Target, SkipList, SuiteLane } from './suite.ts';

const GROUPS = [
  objectsSuite,
  listingSuite,
  multipartSuite,
  partsSuite,
  conditionalSuite,
  taggingSuite,
  authSuite,
  browserSuite,
  curlSuite,
  edgeSuite,
];

/** Declares the whole S3 behaviour suite against one lane's target. */
export function describeS3Suite(lane: SuiteLane): void {
  new SuiteContext(lane.skips, lane.capabilities, lane.deviations).run(
    lane.label,
    () => lane.start(),
    GROUPS,
  );
}
