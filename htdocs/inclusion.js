/*
 * zerosum dashboard — the signed checkpoint and a transfer's inclusion,
 * verified in this browser.
 *
 * The panel shows the latest checkpoint (GET /proof/checkpoint, a C2SP
 * signed note) and checks its Ed25519 signature against the log's key
 * (GET /proof/key). A transfer id pasted in the form is looked up with
 * GET /proof/inclusion?transfer=ID and every claim of the answer is
 * recomputed here, trusting nothing but the key:
 *
 *   record     the record's ref line is R(transfer, id) = SHA-256("zerosum/v1 transfer <id>")
 *   leaf       SHA-256(0x00 || record) is the leaf hash served
 *   path       the RFC 9162 §2.1.3.2 fold of the audit path gives a root
 *   root       that root is the one in the signed checkpoint the answer carries
 *   signature  the checkpoint's signature verifies under the log's key
 *
 * Hashes are WebCrypto's SHA-256; the signature is WebCrypto's Ed25519
 * where the browser has it, and where it has not the page says so
 * ("signature not checked in this browser") instead of claiming it.
 * The record format and the tree are docs/PROOF-FORMAT.md's.
 *
 * Static, same-origin, CSP-clean like app.js: values go in by textContent.
 */
(function () {
  'use strict';

  var POLL_MS = 5000;
  var UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  var SIG_PREFIX = '\u2014 ';       /* "— " (EM DASH, space) opens a signature line */

  var subtle = window.crypto && window.crypto.subtle;
  var enc = new TextEncoder();
  var timer = null;
  var shownNote = '';
  var runs = 0;                     /* checks started, in #incl-result's data-run */

  function $(id) { return document.getElementById(id); }

  /* ------------------------------------------------------------ bytes */

  function hex(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += (bytes[i] + 0x100).toString(16).slice(1);
    return s;
  }

  /* Lowercase or uppercase hex of exactly n bytes, else null. */
  function unhex(s, n) {
    if (typeof s !== 'string' || s.length !== 2 * n || !/^[0-9a-fA-F]*$/.test(s)) return null;
    var out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
    return out;
  }

  /* Standard base64 (with padding) of exactly n bytes, else null. */
  function unbase64(s, n) {
    var bin;
    try { bin = atob(s); } catch (e) { return null; }
    if (bin.length !== n) return null;
    var out = new Uint8Array(n);
    for (var i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function concat() {
    var len = 0, i;
    for (i = 0; i < arguments.length; i++) len += arguments[i].length;
    var out = new Uint8Array(len), off = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], off); off += arguments[i].length; }
    return out;
  }

  function equal(a, b) {
    if (!a || !b || a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function sha256(bytes) {
    return subtle.digest('SHA-256', bytes).then(function (d) { return new Uint8Array(d); });
  }

  /* ------------------------------------------------------------ RFC 9162 */

  var LEAF = new Uint8Array([0]);
  var NODE = new Uint8Array([1]);

  function leafHash(record) { return sha256(concat(LEAF, enc.encode(record))); }
  function nodeHash(l, r) { return sha256(concat(NODE, l, r)); }

  /*
   * RFC 9162 §2.1.3.2: the root an inclusion path leads to from the leaf
   * hash at `index` in a tree of `size` leaves, or null when the path does
   * not fit that position (too short or too long). fn walks up from the
   * leaf, sn from the last leaf; while fn is a right child (odd), or the
   * last node of its level with no right sibling (fn == sn), the sibling p
   * is on the left. Numbers stay exact below 2^53, far beyond any tree.
   */
  async function rootFromPath(index, size, leaf, path) {
    if (!(index >= 0 && index < size)) return null;          /* step 1 */
    var fn = index, sn = size - 1, r = leaf;                  /* steps 2, 3 */
    for (var i = 0; i < path.length; i++) {                   /* step 4 */
      if (sn === 0) return null;                              /* a: path too long */
      if (fn % 2 === 1 || fn === sn) {                        /* b */
        r = await nodeHash(path[i], r);
        /* a last node that is a left child is promoted unchanged: skip the
           levels where it has no sibling */
        while (fn % 2 === 0 && fn !== 0) { fn /= 2; sn = Math.floor(sn / 2); }
      } else {
        r = await nodeHash(r, path[i]);
      }
      fn = Math.floor(fn / 2);                                /* c */
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;                               /* step 5: path too short otherwise */
  }

  /* ------------------------------------------------------------ signed notes */

  /*
   * A checkpoint note: body lines, a blank line, signature lines
   * "— <name> <base64(4-byte key id || signature)>". Returns
   * { body, origin, size, root (bytes), rootB64, state, sigs: [{name, id, sig}] }
   * or throws with what is malformed. The signed message is the body text
   * up to and including its last newline.
   */
  function parseNote(text) {
    var cut = text.indexOf('\n\n');
    if (cut < 0) throw new Error('no blank line between the body and the signatures');
    var body = text.slice(0, cut + 1);
    var lines = body.slice(0, -1).split('\n');
    if (lines.length !== 4) throw new Error('the body has ' + lines.length + ' lines, a checkpoint has 4');
    var size = lines[1];
    if (!/^(0|[1-9][0-9]{0,15})$/.test(size)) throw new Error('tree size "' + size + '" is not a number');
    var root = unbase64(lines[2], 32);
    if (!root) throw new Error('the root line is not 32 bytes of base64');
    var m = /^zerosum-state ([0-9a-f]{64})$/.exec(lines[3]);
    if (!m) throw new Error('no "zerosum-state <hex>" line');
    var sigs = [];
    text.slice(cut + 2).split('\n').forEach(function (line) {
      if (line.indexOf(SIG_PREFIX) !== 0) return;
      var parts = line.slice(SIG_PREFIX.length).split(' ');
      if (parts.length !== 2) return;
      var raw = unbase64(parts[1], 68);           /* Ed25519: 4-byte key id + 64-byte signature */
      if (raw) sigs.push({ name: parts[0], id: raw.slice(0, 4), sig: raw.slice(4) });
    });
    return { body: body, origin: lines[0], size: Number(size), root: root, rootB64: lines[2], state: m[1], sigs: sigs };
  }

  /*
   * A C2SP verifier key "<name>+<8 hex key id>+<base64(0x01 || 32-byte key)>",
   * its id checked: the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key).
   */
  async function parseVkey(vkey) {
    /* a name has no '+'; base64 may, so split at the first two only */
    var m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(String(vkey || ''));
    var raw = m && unbase64(m[3], 33);
    if (!raw || raw[0] !== 1) throw new Error('the served key is not an Ed25519 verifier key');
    var name = m[1], id = unhex(m[2], 4), pub = raw.slice(1);
    var want = (await sha256(concat(enc.encode(name), new Uint8Array([0x0a, 0x01]), pub))).slice(0, 4);
    if (!equal(want, id)) throw new Error('the key id ' + hex(id) + ' is not the hash of the key (' + hex(want) + ')');
    return { name: name, id: id, pub: pub };
  }

  /*
   * Checks the note's signature by `key`. Resolves to
   *   { verdict: 'ok' | 'fail' | 'unsupported', detail }
   * 'unsupported' only when this browser's WebCrypto has no Ed25519.
   */
  async function checkSignature(note, key) {
    var s = note.sigs.filter(function (x) { return x.name === key.name && equal(x.id, key.id); })[0];
    if (!s) return { verdict: 'fail', detail: 'no signature line by ' + key.name + ' (key ' + hex(key.id) + ')' };
    var k;
    try {
      k = await subtle.importKey('raw', key.pub, { name: 'Ed25519' }, false, ['verify']);
    } catch (e) {
      if (e && (e.name === 'NotSupportedError' || e.name === 'TypeError')) {
        return { verdict: 'unsupported', detail: 'signature not checked in this browser: its WebCrypto has no Ed25519' };
      }
      return { verdict: 'fail', detail: 'the key does not load: ' + (e && e.message) };
    }
    var ok = await subtle.verify({ name: 'Ed25519' }, k, s.sig, enc.encode(note.body));
    return ok
      ? { verdict: 'ok', detail: 'Ed25519 signature by ' + key.name + ' (key ' + hex(key.id) + ') verified in this browser' }
      : { verdict: 'fail', detail: 'the Ed25519 signature by key ' + hex(key.id) + ' does not verify' };
  }

  /* ------------------------------------------------------------ HTTP */

  /* GET url; resolves to { status, body } with body parsed as JSON or text. */
  function get(url, json) {
    return fetch(url, { cache: 'no-store', headers: { Accept: json ? 'application/json' : 'text/plain' } })
      .then(function (res) {
        var ct = res.headers.get('Content-Type') || '';
        var p = /json/.test(ct) ? res.json() : res.text();
        return p.then(function (body) { return { status: res.status, body: body }; });
      });
  }

  async function getKey() {
    var r = await get('/proof/key', true);
    if (r.status !== 200 || !r.body || !r.body.vkey) throw new Error('/proof/key answered HTTP ' + r.status);
    return parseVkey(r.body.vkey);
  }

  /* ------------------------------------------------------------ the checkpoint panel */

  function setText(id, text, title) {
    var e = $(id);
    e.textContent = text;
    if (title !== undefined) e.title = title;
  }

  async function refreshCheckpoint() {
    var panel = $('cp');
    try {
      var r = await get('/proof/checkpoint', false);
      if (r.status === 404) {
        panel.setAttribute('data-state', 'none');
        setText('cp-note', 'nothing sealed yet: the first seal signs the first checkpoint');
        return;
      }
      if (r.status !== 200 || typeof r.body !== 'string') throw new Error('/proof/checkpoint answered HTTP ' + r.status);
      if (r.body === shownNote) return;
      var note = parseNote(r.body);
      var key = await getKey();
      var sig = await checkSignature(note, key);
      shownNote = r.body;
      setText('cp-origin', note.origin);
      setText('cp-size', new Intl.NumberFormat('en-US').format(note.size));
      $('cp-size').setAttribute('data-size', String(note.size));
      setText('cp-root', hex(note.root), 'base64 ' + note.rootB64);
      setText('cp-state', note.state);
      setText('cp-key', hex(key.id), key.name);
      setText('cp-sig', sig.verdict === 'ok' ? 'verified in this browser (Ed25519)'
        : sig.verdict === 'unsupported' ? 'signature not checked in this browser (no Ed25519 in its WebCrypto)'
          : 'INVALID: ' + sig.detail);
      $('cp-sig').setAttribute('data-verdict', sig.verdict);
      panel.setAttribute('data-state', sig.verdict === 'fail' ? 'bad' : 'ok');
      setText('cp-note', 'latest of ' + note.origin + ' · ' + new Intl.NumberFormat('en-US').format(note.size) + ' records');
    } catch (e) {
      panel.setAttribute('data-state', 'error');
      setText('cp-note', 'cannot read the checkpoint: ' + (e && e.message ? e.message : e));
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (document.hidden) return;
    timer = setTimeout(function () { refreshCheckpoint().then(schedule); }, POLL_MS);
  }

  /* ------------------------------------------------------------ the inclusion check */

  var STEPS = ['record', 'leaf', 'path', 'root', 'signature'];
  var VERDICT_TEXT = { ok: 'verified', fail: 'FAILED', unsupported: 'not checked', skipped: 'not reached', pending: '…' };

  function stepEl(name) { return document.querySelector('#incl-steps li[data-step="' + name + '"]'); }

  function setStep(name, verdict, detail) {
    var li = stepEl(name);
    li.setAttribute('data-verdict', verdict);
    /* the fold computes a root; whether it is the signed one is the next step */
    li.querySelector('.step-verdict').textContent = name === 'path' && verdict === 'ok' ? 'folded' : VERDICT_TEXT[verdict];
    li.querySelector('.step-detail').textContent = detail || '';
  }

  function setResult(state, message) {
    $('incl-result').setAttribute('data-state', state);
    $('incl-message').textContent = message;
  }

  function resetSteps(show) {
    $('incl-steps').hidden = !show;
    STEPS.forEach(function (s) { setStep(s, 'pending', ''); });
  }

  /* The rest of the steps after one that cannot go on. */
  function skipFrom(name) {
    for (var i = STEPS.indexOf(name); i < STEPS.length; i++) {
      if (stepEl(STEPS[i]).getAttribute('data-verdict') === 'pending') setStep(STEPS[i], 'skipped', '');
    }
  }

  async function verifyInclusion(id) {
    $('incl-result').setAttribute('data-run', String(++runs));
    resetSteps(false);
    setResult('working', 'asking /proof/inclusion for transfer ' + id + '…');

    var r = await get('/proof/inclusion?transfer=' + encodeURIComponent(id), true);
    var key = await getKey();
    if (r.status === 404 && r.body && r.body.code === 'not_sealed') {
      setResult('not-sealed', 'Transfer ' + id + ' exists but is not in the log yet (not_sealed): the sealer adds it within seconds; try again.');
      return;
    }
    if (r.status === 404) {
      setResult('not-found', 'No transfer ' + id + ' in the log (' + ((r.body && r.body.code) || 'HTTP 404') + ').');
      return;
    }
    if (r.status !== 200 || !r.body || typeof r.body !== 'object') {
      setResult('error', '/proof/inclusion answered HTTP ' + r.status + (r.body && r.body.detail ? ': ' + r.body.detail : ''));
      return;
    }
    var a = r.body;
    resetSteps(true);

    /* record: it is this transfer's, by its ref line */
    var record = typeof a.record === 'string' ? a.record : '';
    var ref = hex(await sha256(enc.encode('zerosum/v1 transfer ' + id)));
    var refOk = record.indexOf('zerosum/v1 transfer\nref ' + ref + '\n') === 0;
    setStep('record', refOk ? 'ok' : 'fail', refOk
      ? 'a transfer record whose ref ' + ref.slice(0, 16) + '… is SHA-256("zerosum/v1 transfer ' + id + '")'
      : 'the record served is not transfer ' + id + "'s (its ref line is not " + ref + ')');

    /* leaf: the leaf hash is recomputed from the record; the fold starts from ours */
    var leaf = await leafHash(record);
    var leafOk = hex(leaf) === String(a.leaf_hash).toLowerCase();
    setStep('leaf', leafOk ? 'ok' : 'fail', leafOk
      ? 'SHA-256(0x00 ‖ record) = ' + hex(leaf) + ', the leaf hash served'
      : 'SHA-256(0x00 ‖ record) = ' + hex(leaf) + ' but the answer says ' + a.leaf_hash);

    /* path → root */
    var path = Array.isArray(a.path) ? a.path.map(function (h) { return unhex(h, 32); }) : [null];
    var root = null;
    if (path.some(function (p) { return !p; }) || !Number.isSafeInteger(a.index) || !Number.isSafeInteger(a.tree_size)) {
      setStep('path', 'fail', 'the path is not a list of 32-byte hex hashes, or index / tree_size are not integers');
    } else {
      root = await rootFromPath(a.index, a.tree_size, leaf, path);
      setStep('path', root ? 'ok' : 'fail', root
        ? path.length + ' hash' + (path.length === 1 ? '' : 'es') + ' folded from leaf ' + a.index + ' of ' + a.tree_size + ' → root ' + hex(root)
        : 'a path of ' + path.length + ' hashes does not fit leaf ' + a.index + ' of a tree of ' + a.tree_size);
    }

    /* root = the signed checkpoint's root */
    var note = null;
    try { note = parseNote(String(a.checkpoint || '')); } catch (e) {
      setStep('root', 'fail', 'the checkpoint in the answer is malformed: ' + e.message);
    }
    if (note && !root) {
      setStep('root', 'skipped', 'no root to compare');
    } else if (note) {
      var rootOk = note.size === a.tree_size && equal(root, note.root);
      setStep('root', rootOk ? 'ok' : 'fail', rootOk
        ? 'equals the root of the checkpoint at tree size ' + note.size
        : note.size !== a.tree_size
          ? 'the proof is for tree size ' + a.tree_size + ' but the checkpoint is at size ' + note.size
          : 'the path leads to ' + hex(root) + ' but the checkpoint\'s root is ' + hex(note.root));
    }

    /* signature: the checkpoint is the log's */
    if (note) {
      var sig = await checkSignature(note, key);
      setStep('signature', sig.verdict, sig.detail);
    }
    skipFrom('record');

    var verdicts = STEPS.map(function (s) { return stepEl(s).getAttribute('data-verdict'); });
    if (verdicts.every(function (v) { return v === 'ok'; })) {
      setResult('verified', 'Transfer ' + id + ' is record ' + a.index + ' of the signed log of ' + a.tree_size + ' records: verified in this browser.');
    } else if (verdicts.every(function (v, i) { return v === 'ok' || (STEPS[i] === 'signature' && v === 'unsupported'); })) {
      setResult('unsigned', 'Transfer ' + id + ' is record ' + a.index + ' of a log of ' + a.tree_size +
        ' records whose root matches the checkpoint; signature not checked in this browser (no Ed25519 in its WebCrypto).');
    } else {
      setResult('failed', 'NOT verified: ' + STEPS.filter(function (s, i) { return verdicts[i] === 'fail'; }).join(', ') +
        ' failed. Do not trust this answer.');
    }
  }

  /* ------------------------------------------------------------ wiring */

  function init() {
    if (!$('tlog')) return;
    if (!subtle) {
      /* WebCrypto exists only in secure contexts (https, or localhost) */
      $('tlog').setAttribute('data-crypto', 'none');
      setText('cp-note', 'this page is not a secure context (https or localhost): the browser offers no WebCrypto, so nothing is verified here');
      $('incl-verify').disabled = true;
      return;
    }
    $('incl-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = $('incl-id');
      var id = input.value.trim().toLowerCase();
      if (!UUID_RE.test(id)) {
        input.setAttribute('aria-invalid', 'true');
        resetSteps(false);
        $('incl-result').setAttribute('data-run', String(++runs));
        setResult('invalid', 'A transfer id is a UUID (8-4-4-4-12 hex digits).');
        return;
      }
      input.removeAttribute('aria-invalid');
      /* one check at a time: the steps list is shared */
      var button = $('incl-verify');
      button.disabled = true;
      $('incl-result').setAttribute('aria-busy', 'true');
      verifyInclusion(id).catch(function (e) {
        setResult('error', 'could not check: ' + (e && e.message ? e.message : e));
      }).then(function () {
        button.disabled = false;
        $('incl-result').removeAttribute('aria-busy');
      });
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) refreshCheckpoint().then(schedule);
      else schedule();
    });
    refreshCheckpoint().then(schedule);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
