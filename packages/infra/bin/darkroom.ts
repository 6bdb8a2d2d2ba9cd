#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { DarkroomStack } from '../lib/darkroom-stack.ts';
import { paramsFromContext } from '../lib/params.ts';

// Parameters come from CDK context (`-c key=value` or cdk.json); see docs/DEPLOY.md for the list.
const app = new App();
const stackName = (app.node.tryGetContext('stackName') as string | undefined) ?? 'Darkroom';
new DarkroomStack(app, stackName, {
  params: paramsFromContext((key) => app.node.tryGetContext(key)),
  description: 'Darkroom image uploads: bucket, queue + DLQ, notifications, CloudFront, IAM roles',
});
app.synth();
