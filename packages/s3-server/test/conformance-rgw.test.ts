// The S3 behaviour suite against a real Ceph RGW 16 (one throw-away cluster for this whole file). Each skip
// and deviation names where RGW departs from Amazon S3's documented behaviour; the embedded server follows
// S3 there (README, "Ceph RGW 16 and S3").
import { describeS3Suite } from './conformance/index.ts';
import { rgwTarget } from './conformance/targets.ts';

const NO_PART_NUMBER = 'RGW 16 ignores ?partNumber on GetObject/HeadObject and answers with the whole object';
const NO_CONDITIONAL_COMPLETE =
  'RGW 16 ignores If-None-Match / If-Match on CompleteMultipartUpload and CopyObject';
const CHUNKED_411 =
  'RGW 16 answers a chunked body without aws-chunked framing 411 MissingContentLength (S3: 501 NotImplemented)';

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
    etagQuotes: 'RGW 16 sends the UploadPartCopy CopyPartResult ETag without quotes',
  },
  skips: {
    'ListObjectsV2 > gives each key the LastModified of its Last-Modified header (whole seconds)':
      "RGW 16 lists LastModified with milliseconds (S3's listings and documentation show .000Z, the header's whole second)",
    'checksums > verifies and returns CRC32': NO_FLEXIBLE_CHECKSUMS,
    'checksums > verifies and returns CRC32C': NO_FLEXIBLE_CHECKSUMS,
    'checksums > verifies and returns SHA1': NO_FLEXIBLE_CHECKSUMS,
    'checksums > verifies and returns SHA256': NO_FLEXIBLE_CHECKSUMS,
    'checksums > refuses a wrong checksum, writing nothing': NO_FLEXIBLE_CHECKSUMS,
    "multipart > composes a COMPOSITE checksum from the parts' checksums": NO_FLEXIBLE_CHECKSUMS,
    'multipart > refuses wrong ETags, bad order, small parts and unknown uploads, storing nothing':
      'RGW 16 checks part sizes before the list order: EntityTooSmall where S3 answers InvalidPartOrder',
    'multipart > answers a complete of a completed upload with other parts NoSuchUpload':
      'RGW 16 answers 500 InternalError ("This multipart completion is already in progress")',
    'UploadPartCopy > refuses ranges S3 refuses: a malformed one, and one past the source':
      'RGW 16 answers a copy range past the source 416 InvalidRange (S3: 400 InvalidArgument)',
    'GetObject by partNumber > serves each part with its length, the part count and the whole object ETag':
      NO_PART_NUMBER,
    'GetObject by partNumber > answers a part number beyond the count with 416 InvalidPartNumber':
      NO_PART_NUMBER,
    'GetObject by partNumber > serves a single-part object whole as part 1, and nothing as part 2':
      NO_PART_NUMBER,
    'GetObject by partNumber > refuses partNumber with a Range, and part numbers outside 1..10000':
      NO_PART_NUMBER,
    'conditional PutObject > answers 412 to a streamed body at the SDK defaults (aws-chunked, no Content-Length), not a cut connection':
      'RGW 16 refuses an aws-chunked body with a trailing checksum and no Content-Length (411 MissingContentLength) before it looks at the condition',
    'conditional PutObject > If-Match replaces only the object with that ETag: 412 on another, 404 NoSuchKey when absent':
      'RGW 16 answers If-Match on a missing key 412 PreconditionFailed (S3: 404 NoSuchKey)',
    'conditional PutObject > If-None-Match other than * and If-Match: * are 501 NotImplemented, as on S3':
      'RGW 16 takes an ETag in If-None-Match and * in If-Match (S3 refuses both with 501)',
    'conditional PutObject > If-Match that still holds after the key was rewritten during the upload is 409 ConditionalRequestConflict':
      'RGW 16 answers 412 PreconditionFailed: it compares against the object at commit only',
    'conditional CopyObject > If-None-Match: * copies only onto a free key': NO_CONDITIONAL_COMPLETE,
    'conditional CompleteMultipartUpload > If-None-Match: * completes onto a free key, and 412 when the key was taken before or during':
      NO_CONDITIONAL_COMPLETE,
    'conditional CompleteMultipartUpload > 409 ConditionalRequestConflict when the key changed after the upload began but the condition holds':
      NO_CONDITIONAL_COMPLETE,
    'HTTP edges > refuses a PutObject body sent with Transfer-Encoding: chunked with 501 NotImplemented':
      CHUNKED_411,
    'HTTP edges > refuses a tagging document sent with Transfer-Encoding: chunked with 501 NotImplemented':
      CHUNKED_411,
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
