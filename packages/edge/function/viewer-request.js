// Darkroom's CloudFront Function (cloudfront-js-2.0, viewer request), and the decision the local delivery
// route runs too (see src/load.ts). Written in ECMAScript 5.1 so it runs unchanged on CloudFront's runtime
// and in a bare node:vm context; CONFIG is prepended at synth time (variants and their stored formats, the
// private path, the transform secret). It maps a viewer URL and its Accept header to one storage key, or
// refuses the request before any origin is asked.

var crypto = require('crypto');

var ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
var TRANSFORM_RE = /^(w|h|f|q|fit)_/;
var INT_RE = /^[1-9][0-9]{0,4}$/;
var EXT = { webp: 'webp', avif: 'avif', jpeg: 'jpg', png: 'png', fallback: 'fallback' };
var ACCEPT = { avif: 'image/avif,image/webp,*/*;q=0.8', webp: 'image/webp,*/*;q=0.8', original: '*/*' };
var FITS = ['cover', 'contain', 'fill', 'inside', 'outside'];
var FORMATS = ['webp', 'avif', 'jpeg', 'png', 'auto'];
var STATUS = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found' };

function has(o, k) {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function refuse(status, code, message) {
  return { refuse: { status: status, code: code, message: message } };
}

/** avif if Accept names image/avif with q > 0, else webp likewise, else original; wildcards do not count. */
function acceptClass(accept) {
  var parts = (accept || '').toLowerCase().split(',');
  var webp = false;
  for (var i = 0; i < parts.length; i++) {
    var params = parts[i].split(';');
    var type = params[0].trim();
    if (type !== 'image/avif' && type !== 'image/webp') continue;
    var ok = true;
    for (var j = 1; j < params.length; j++) {
      var p = params[j].trim();
      if (p.indexOf('q=') === 0 && !(Number(p.slice(2)) > 0)) ok = false;
    }
    if (!ok) continue;
    if (type === 'image/avif') return 'avif';
    webp = true;
  }
  return webp ? 'webp' : 'original';
}

/** The stored format a class gets among `formats`: avif > webp > the first JPEG/PNG > the rendered fallback. */
function pick(formats, wanted) {
  var order = wanted === 'avif' ? ['avif', 'webp'] : wanted === 'webp' ? ['webp'] : [];
  for (var i = 0; i < order.length; i++) if (formats.indexOf(order[i]) !== -1) return order[i];
  for (var k = 0; k < formats.length; k++) {
    if (formats[k] === 'jpeg' || formats[k] === 'png') return formats[k];
  }
  return 'fallback';
}

/** The class a representation answers: what x-darkroom-format says. */
function classOf(format) {
  return format === 'avif' || format === 'webp' ? format : 'original';
}

/** Constant-time comparison of two strings of base64url text. */
function same(a, b) {
  if (typeof a !== 'string' || a.length !== b.length) return false;
  var diff = 0;
  for (var i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Strict transform grammar: comma-separated key_value, each key once, numbers without leading zeros. */
function parseTransform(segment) {
  var out = { w: 0, h: 0, fit: 'inside', f: 'auto', q: 0 };
  var seen = {};
  var tokens = segment.split(',');
  for (var i = 0; i < tokens.length; i++) {
    var sep = tokens[i].indexOf('_');
    var key = sep > 0 ? tokens[i].slice(0, sep) : tokens[i];
    var value = sep > 0 ? tokens[i].slice(sep + 1) : '';
    if (!has(out, key)) return 'unknown option "' + tokens[i] + '" (known: w, h, fit, f, q)';
    if (has(seen, key)) return 'option ' + key + ' is given twice';
    seen[key] = true;
    if (key === 'fit' || key === 'f') {
      var allowed = key === 'fit' ? FITS : FORMATS;
      if (allowed.indexOf(value) === -1) return key + ' must be one of ' + allowed.join(', ');
      out[key] = value;
    } else {
      var max = key === 'q' ? 100 : 16384;
      if (!INT_RE.test(value) || Number(value) > max) {
        return key + ' must be an integer from 1 to ' + max + ', written without leading zeros';
      }
      out[key] = Number(value);
    }
  }
  return out;
}

/**
 * The decision for one viewer request: `uri` is the path as received, `param(name)` a query parameter (undefined
 * when absent, null when given twice), `accept` the Accept header. Returns the storage key and what the origin
 * needs to make it, or `{refuse}`. The private path's CloudFront signature is checked before this runs.
 */
function route(uri, param, accept) {
  var priv = uri.indexOf(CONFIG.privatePath + '/') === 0;
  if (!priv && uri.indexOf('/img/') !== 0) return refuse(404, 'not_found', 'not a delivery URL');
  var parts = uri.slice(priv ? CONFIG.privatePath.length + 1 : 5).split('/');
  if (parts.length !== 2 || !ID_RE.test(parts[0])) return refuse(404, 'not_found', 'no such image');
  var id = parts[0];
  var segment = parts[1];
  var prefix = (priv ? 'private/' : 'variants/') + id + '/';
  var f = param('f');
  var wanted = f === 'avif' || f === 'webp' || f === 'original' ? f : acceptClass(accept);
  var d = { id: id, private: priv, accepted: wanted, segment: segment };
  if (TRANSFORM_RE.test(segment)) {
    var sig = param('sig');
    var path = '/img/' + id + '/' + segment;
    if (
      !CONFIG.secret ||
      !same(sig, crypto.createHmac('sha256', CONFIG.secret).update(path).digest('base64url'))
    ) {
      return refuse(
        403,
        'bad_signature',
        'transform URLs need ?sig=, the HMAC-SHA256 of the path made with the transform secret'
      );
    }
    var o = parseTransform(segment);
    if (typeof o === 'string') return refuse(400, 'invalid_transform', o);
    var format = o.f !== 'auto' ? o.f : wanted === 'original' ? 'fallback' : wanted;
    var canonical =
      (o.w ? 'w_' + o.w + ',' : '') +
      (o.h ? 'h_' + o.h + ',' : '') +
      'fit_' +
      o.fit +
      ',f_' +
      format +
      (o.q ? ',q_' + o.q : '');
    d.kind = 'transform';
    d.options = canonical;
    d.transform = o;
    d.format = format;
    d.negotiated = o.f === 'auto';
    d.key = prefix + 't/' + crypto.createHash('sha256').update(canonical).digest('hex') + '.' + EXT[format];
    d.request = (priv ? CONFIG.privatePath : '/img') + '/' + id + '/' + segment + '?sig=' + sig;
  } else {
    if (!has(CONFIG.variants, segment)) return refuse(404, 'not_found', 'no variant named ' + segment);
    var formats = CONFIG.variants[segment];
    d.kind = 'variant';
    d.format = pick(formats, wanted);
    d.negotiated =
      pick(formats, 'avif') !== d.format ||
      pick(formats, 'webp') !== d.format ||
      pick(formats, 'original') !== d.format;
    d.key = prefix + segment + '.' + EXT[d.format];
    d.request = (priv ? CONFIG.privatePath : '/img') + '/' + id + '/' + segment;
  }
  d.choice = classOf(d.format);
  return d;
}

/** CloudFront's entry point: rewrite to the storage key (the cache key) or answer the refusal. */
function handler(event) {
  var request = event.request;
  var qs = request.querystring;
  var param = function (name) {
    if (!has(qs, name)) return undefined;
    return qs[name].multiValue ? null : qs[name].value;
  };
  var accept = has(request.headers, 'accept') ? request.headers.accept.value : '';
  var d = route(request.uri, param, accept);
  if (d.refuse) {
    return {
      statusCode: d.refuse.status,
      statusDescription: STATUS[d.refuse.status],
      headers: {
        'content-type': { value: 'application/json; charset=utf-8' },
        'cache-control': { value: d.refuse.status === 403 ? 'private, no-store' : 'private, max-age=60' },
      },
      body: {
        encoding: 'text',
        data: JSON.stringify({ error: { code: d.refuse.code, message: d.refuse.message } }),
      },
    };
  }
  // What the API needs should S3 lack the key: the viewer request, with a private URL's signature.
  var target = d.request;
  var names = ['Expires', 'Signature', 'Key-Pair-Id', 'Hash-Algorithm'];
  for (var i = 0; d.private && i < names.length; i++) {
    var v = param(names[i]);
    if (typeof v === 'string') target += (target.indexOf('?') === -1 ? '?' : '&') + names[i] + '=' + v;
  }
  request.headers['x-darkroom-request'] = { value: target };
  request.headers.accept = { value: ACCEPT[d.accepted] };
  request.uri = '/' + d.key;
  request.querystring = {};
  return request;
}
