import crypto from 'node:crypto';
import { CASE_CONFIG } from '@darkroom/edge/cases';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DarkroomStack } from '../lib/darkroom-stack.ts';
import { type ParamsInput, resolveParams } from '../lib/params.ts';

const pair = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
/** A real RSA public key, as CloudFront wants it. */
export const PUBLIC_KEY_PEM = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString();
/** Its private key, which signs private-image URLs in tests. */
export const PRIVATE_KEY_PEM = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** Parameters most tests use: CORS origins, a signing key, the edge case table's variants and secret. */
export const FULL: ParamsInput = {
  apiOriginDomain: 'api.example.com',
  corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
  publicKeyPem: PUBLIC_KEY_PEM,
  variants: CASE_CONFIG.variantsText,
  transformSecret: CASE_CONFIG.transformSecret,
};

/** Synthesises a stack with `params` (offline: the stack is environment-agnostic). */
export function synth(params: ParamsInput = FULL): { stack: DarkroomStack; template: Template } {
  const app = new App();
  const stack = new DarkroomStack(app, 'Test', { params: resolveParams(params) });
  return { stack, template: Template.fromStack(stack) };
}

type Json = unknown;

/** Renders a CloudFormation value to a string, replacing `Ref X` by `X` and `GetAtt X.Arn` by `arn:X`. */
export function render(value: Json): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const o = value as Record<string, Json>;
    if ('Ref' in o) return String(o.Ref);
    if ('Fn::GetAtt' in o) {
      const [id, attr] = o['Fn::GetAtt'] as [string, string];
      return attr === 'Arn' ? `arn:${id}` : `${id}.${attr}`;
    }
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, Json[]];
      return parts.map(render).join(sep);
    }
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: Json | Json[];
}

const glob = (pattern: string, s: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(s);

/** Every statement of the identity policies attached to the role whose logical id starts with `rolePrefix`. */
export function roleStatements(template: Template, rolePrefix: string): Statement[] {
  const roleIds = Object.keys(template.findResources('AWS::IAM::Role')).filter((id) =>
    id.startsWith(rolePrefix),
  );
  if (roleIds.length !== 1) throw new Error(`expected one role ${rolePrefix}, found ${roleIds.join(', ')}`);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as {
    Properties: { Roles: { Ref: string }[]; PolicyDocument: { Statement: Statement[] } };
  }[];
  return policies
    .filter((pol) => pol.Properties.Roles.some((r) => r.Ref === roleIds[0]))
    .flatMap((pol) => pol.Properties.PolicyDocument.Statement);
}

/** Whether the statements allow `action` on `resource` (no conditions in our policies; Deny wins). */
export function allows(statements: Statement[], action: string, resource: string): boolean {
  const matches = (st: Statement) =>
    [st.Action].flat().some((a) => glob(a, action)) &&
    [st.Resource].flat().some((r) => glob(render(r), resource));
  return (
    statements.some((st) => st.Effect === 'Allow' && matches(st)) &&
    !statements.some((st) => st.Effect === 'Deny' && matches(st))
  );
}

/** The single resource of `type`, by logical id and properties. */
export function only(template: Template, type: string): { id: string; props: Record<string, Json> } {
  const found = Object.entries(template.findResources(type));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  const [id, res] = found[0]!;
  return { id, props: (res as { Properties: Record<string, Json> }).Properties };
}
