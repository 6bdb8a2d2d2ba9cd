import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.ts';

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  suppressEmptyNode: false,
});
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  removeNSPrefix: true,
  // Predefined entities (&quot; in ETags) must decode; DTDs, which could define more, are refused below.
  processEntities: true,
});

/** Renders an S3 response document: `<Root xmlns="…">…</Root>` with the XML declaration. */
export function s3Xml(root: string, body: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: { '@xmlns': S3_NS, ...body } })}`;
}

/** Renders an XML document without the S3 namespace (error documents do not carry one). */
export function plainXml(root: string, body: Record<string, unknown>): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: body })}`;
}

/** Parses a request body; returns the root element's content or throws MalformedXML. */
export function parseS3Xml(text: string, root: string): Record<string, unknown> {
  let doc: Record<string, unknown>;
  // S3 documents never carry a DTD; refusing one closes the entity-expansion (billion laughs) door.
  if (/<!DOCTYPE|<!ENTITY/i.test(text))
    throw new S3Error('MalformedXML', 'XML documents with a DTD are not accepted.');
  try {
    doc = parser.parse(text, true) as Record<string, unknown>;
  } catch (err) {
    throw new S3Error('MalformedXML', undefined, {}, { cause: err });
  }
  const content = doc[root];
  if (content === undefined) throw new S3Error('MalformedXML', `Expected a <${root}> document.`);
  return content === '' ? {} : (content as Record<string, unknown>);
}

/** XML elements that may repeat come back as a value or an array; this always gives an array. */
export function asArray<T>(value: T | T[] | undefined): T[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
