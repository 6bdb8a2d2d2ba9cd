// The S3 behaviour suite against a real Ceph RGW 16 (one throw-away cluster for this whole file). Each skip
// and deviation names where RGW departs from Amazon S3's documented behaviour; the embedded server follows
// S3 there (README, "Ceph RGW 16 and S3").
import { describeS3Suite } from './conformance/index.ts';
import { rgwTarget } from './conformance/targets.ts';

const NO_FLEXIBLE_CHECKSUMS =
  'RGW 16 predates S3 flexible checksums (x-amz-checksum-*, added in Ceph 19): it neither verifies nor returns them';

describeS3Suite({
  label: 'Ceph RGW 16',
  start: rgwTarget,
  // RGW answers virtual-host style only for the names in `rgw dns name`, which testkit leaves unset.
  capabilities: { virtualHostLocalhost: false },
  deviations: {
    errorDetails:
      "RGW 16 sends most errors with an empty <Message> and without S3's extra fields (Key, MaxSizeAllowed, …), and words policy failures its own way",
    completeEtag:
      'RGW 16 answers the first CompleteMultipartUpload with an empty <ETag> (HeadObject has the right one)',
  },
  skips: {
    'checksums > verifies and returns CRC32': NO_FLEXIBLE_CHECKSUMS,
    'checksums > verifies and returns CRC32C': NO_FLEXIBLE_CHECKSUMS,
    'checksums > verifies and returns SHA1': NO_FLEXIBLE_CHECKSUMS,
    'checksums > verifies and returns SHA256': NO_FLEXIBLE_CHECKSUMS,
    'checksums > refuses a wrong checksum, writing nothing': NO_FLEXIBLE_CHECKSUMS,
    "multipart > composes a COMPOSITE checksum from the parts' checksums": NO_FLEXIBLE_CHECKSUMS,
    'multipart > refuses wrong ETags, bad order, small parts and unknown uploads, storing nothing':
      'RGW 16 checks part sizes before the list order: EntityTooSmall where S3 answers InvalidPartOrder',
    'tags on write > CreateMultipartUpload with Tagging gives the completed object those tags':
      'RGW 16 ignores x-amz-tagging on CreateMultipartUpload: the completed object has no tags',
    'tags on write > a malformed POST tagging field is MalformedXML and stores nothing':
      'RGW 16 answers InvalidArgument where S3 answers MalformedXML',
    'tags on write > CopyObject copies tags by default and replaces them with x-amz-tagging-directive REPLACE':
      'RGW 16 ignores x-amz-tagging-directive REPLACE and keeps the source tags',
    'Put/Get/DeleteObjectTagging > replaces the whole tag set, and delete empties it, leaving bytes, ETag and Last-Modified':
      'RGW 16 moves Last-Modified when an object tag set changes',
    'tag limits > refuses the same key twice with InvalidTag and keeps the old tags':
      'RGW 16 accepts a tag set that names a key twice',
    'tag limits > refuses an x-amz-tagging header over the limits on PutObject and CreateMultipartUpload':
      'RGW 16 answers InvalidArgument where S3 answers InvalidTag',
    'tag limits > refuses a tagging document that is not one with MalformedXML':
      'RGW 16 accepts a document whose root is not <Tagging>',
    'tag limits > refuses tags S3 would refuse in the x-amz-tagging header before reading the body':
      'RGW 16 answers InvalidArgument where S3 answers InvalidTag',
    'header authentication > refuses a signature scoped to another region':
      'RGW 16 accepts a SigV4 credential scoped to any region',
    'presigned URLs > checks a PUT URL presigned at SDK defaults against its signed CRC32 of the empty body':
      NO_FLEXIBLE_CHECKSUMS,
    'bucket CORS > refuses preflights while no CORS configuration exists':
      'RGW 16 answers AccessDenied where S3 answers AccessForbidden',
    'browser-style POST form with curl -F > uploads within the policy: 204, and the object has the right bytes and type':
      'RGW 16 sends no ETag header with a 204 POST answer',
    'browser-style POST form with curl -F > refuses a tampered policy with 403 SignatureDoesNotMatch, writing nothing':
      'RGW 16 answers AccessDenied where S3 answers SignatureDoesNotMatch',
    'browser-style POST form with curl -F > answers success_action_status=201 with a PostResponse document':
      'RGW 16 sends the PostResponse ETag unquoted and no ETag header',
  },
});
