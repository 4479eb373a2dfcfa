/*
 * zerosum dashboard — polls /proof, /proof/activity, /proof/holds, /metrics and /markets
 * (plus the chosen market's /markets/{id}) every 2 s (paused while the tab
 * is hidden) and draws them; an admin can start a stampede run
 * (POST /proof/runs) and follow it to its verdict.
 *
 * Anonymous viewers see what the service shows anyone: transfers as counts
 * by kind, no sample ids, run summaries without their free text. With a
 * token in this tab the /proof calls carry it, and an admin token gets the
 * full feed (a refused token falls back to the anonymous view).
 *
 * Static, same-origin, CSP-clean: no inline script or style, no innerHTML
 * with data (every value goes in through textContent), charts by uPlot
 * from htdocs/vendor/ (scripts/build-dashboard copies it from npm).
 */
(function () {
  'use strict';

  var POLL_MS = 2000;
  var RUN_POLL_MS = 1000;
  var TOKEN_KEY = 'zerosum.adminToken';
  var RUN_KEY = 'zerosum.lastRun';
  var MARKET_KEY = 'zerosum.market';
  var BOOK_LEVELS = 8;       /* levels shown per side; the rest are counted */
  var ISSUER_ID = '00000000-0000-0000-0000-000000000001';
  var BID_CHART_H = window.matchMedia('(max-width: 600px)').matches ? 220 : 330;
  var MARKET_CHART_H = window.matchMedia('(max-width: 600px)').matches ? 220 : 300;
  var RETRY_LABELS = ['0', '1', '2', '3', '4–5', '6+'];

  var state = {
    timer: null,
    inflight: false,
    again: false,            /* poll again as soon as the one in flight lands */
    chartLot: null,          /* null: follow the lot bid on most recently */
    shownLot: null,          /* the lot the bid chart shows: its event stream is open */
    updatedAt: null,         /* the last poll that answered, for the live indicator */
    checksKey: '',
    runsKey: '',
    transfersKey: '',
    holdsKey: '',
    bidsKey: '',
    bidChart: null,
    retryChart: null,
    bidData: null,
    retryData: null,
    market: storageGet(MARKET_KEY),   /* null: follow the market created most recently */
    marketsKey: '',
    marketKey: '',
    marketChart: null,
    marketChartFor: '',      /* market id + kind the chart was built for */
    marketData: null,
    marketQty: null,         /* per chart point: quantity and kind, for the legend */
    marketKinds: null,
    run: null,               /* { id, timer, started } */
    tokenRefused: false,     /* the stored token got a 401: polls go anonymous */
    failures: 0
  };

  var nf = new Intl.NumberFormat('en-US');

  /* ------------------------------------------------------------ helpers */

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function fmtNum(v) {
    if (typeof v === 'number') return nf.format(v);
    if (v === null || v === undefined) return '—';
    return String(v);
  }

  function shortId(id) {
    if (!id) return '—';
    if (id === ISSUER_ID) return 'issuer';
    return String(id).slice(0, 8);
  }

  function idSpan(id, cls) {
    var s = el('span', 'id' + (cls ? ' ' + cls : ''), shortId(id));
    if (id) s.title = id;
    if (id === ISSUER_ID) s.classList.add('issuer');
    return s;
  }

  /* "2026-11-22T04:49:41.123456Z" → "04:49:41" */
  function fmtTime(iso) {
    if (!iso) return '—';
    var m = /T(\d\d:\d\d:\d\d)/.exec(iso);
    return m ? m[1] : iso;
  }

  function fmtSnapshot(iso) {
    var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d{1,3})?/.exec(iso || '');
    return m ? m[2] + (m[3] || '') + ' UTC · ' + m[1] : (iso || '—');
  }

  function parseTs(iso) {
    var t = Date.parse(iso || '');
    return isNaN(t) ? null : t;
  }

  function fmtDuration(ms) {
    if (ms === null || ms === undefined || ms < 0) return '—';
    if (ms < 1000) return ms + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
    if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.floor((ms % 60000) / 1000) + ' s';
    if (ms < 86400000) return Math.floor(ms / 3600000) + ' h ' + Math.floor((ms % 3600000) / 60000) + ' min';
    return nf.format(Math.floor(ms / 86400000)) + ' days';
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return '—';
    if (!isFinite(s)) return '> 2.5 s';
    if (s < 1) return Math.round(s * 1000) + ' ms';
    return s + ' s';
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function cssVar(name, fallback) {
    var v = getComputedStyle(document.documentElement).getPropertyValue(name);
    return (v && v.trim()) || fallback;
  }

  function storageGet(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try {
      if (value === null) window.sessionStorage.removeItem(key);
      else window.sessionStorage.setItem(key, value);
    } catch (e) { /* storage disabled: keep it in memory only */ }
  }

  /* GET a JSON document; a 409 from /proof is an answer, not an error. */
  function netError(url) {
    return function (e) { throw new Error(url + ': ' + (e && e.message ? e.message : 'no answer')); };
  }

  /* GET url with the tab's token, if any (the /proof family shows an admin
     more); a token the server refuses (401) is reported and the call made
     again without it. */
  function getAuthJSON(url) {
    var tok = storageGet(TOKEN_KEY);
    if (!tok) return getJSON(url);
    return getJSON(url, tok).then(function (body) {
      state.tokenRefused = false;
      return body;
    }, function (e) {
      if (e.status !== 401) throw e;
      state.tokenRefused = true;
      return getJSON(url);
    });
  }

  function getJSON(url, tok) {
    var headers = { Accept: 'application/json' };
    if (tok) headers.Authorization = 'Bearer ' + tok;
    return fetch(url, { cache: 'no-store', headers: headers })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok && !(res.status === 409 && body && 'consistent' in body)) {
            var err = new Error(url + ': HTTP ' + res.status + (body && body.detail ? ' — ' + body.detail : ''));
            err.status = res.status;
            throw err;
          }
          return body;
        }, function () {
          throw new Error(url + ': HTTP ' + res.status + ', not JSON');
        });
      }, netError(url));
  }

  function getText(url) {
    return fetch(url, { cache: 'no-store' }).then(function (res) {
      if (!res.ok) throw new Error(url + ': HTTP ' + res.status);
      return res.text();
    }, netError(url));
  }

  /* ------------------------------------------------------------ live state */

  function setLive(kind, text) {
    var live = $('live');
    live.setAttribute('data-state', kind);
    $('live-text').textContent = text;
  }

  /* ------------------------------------------------------------ /proof */

  function renderProof(p) {
    var ok = p.consistent === true;
    var checks = Array.isArray(p.checks) ? p.checks : [];
    var failing = checks.filter(function (c) { return !c.ok; });
    var evidence = checks.filter(function (c) { return c.kind === 'evidence'; });
    var badge = $('badge');

    badge.setAttribute('data-state', ok ? 'consistent' : 'inconsistent');
    $('badge-icon').textContent = ok ? '✓' : '✗';
    $('badge-text').textContent = ok ? 'consistent' : 'inconsistent';
    if (ok) {
      $('badge-sub').textContent = 'all ' + checks.length + ' checks hold · ' + evidence.length +
        ' of them evidence, compared from one snapshot';
    } else {
      $('badge-sub').textContent = failing.length + ' of ' + checks.length + ' checks fail: ' +
        failing.map(function (c) { return c.name; }).join(', ');
    }
    document.title = (ok ? '✓ consistent' : '✗ INCONSISTENT') + ' · zerosum';

    $('snapshot-at').textContent = fmtSnapshot(p.snapshot_at);
    $('snapshot-at').title = p.snapshot_at || '';
    var b = p.backend || {};
    var version = String(b.version || '').split(' ')[0];
    $('backend').textContent = [b.engine, version].filter(Boolean).join(' ') +
      (b.dialect ? ' · ' + b.dialect + ' dialect' : '') || '—';
    $('backend').title = [b.engine, b.version].filter(Boolean).join(' ');
    $('isolation').textContent = b.isolation || '—';
    $('gate').textContent = ok ? '200 OK' : '409 Conflict';
    $('gate').className = ok ? 'gate-ok' : 'gate-fail';

    renderSealing(p);

    var counts = p.counts || {};
    Array.prototype.forEach.call(document.querySelectorAll('[data-count]'), function (e) {
      e.textContent = fmtNum(counts[e.getAttribute('data-count')]);
    });

    var bounds = checks.filter(function (c) { return c.kind === 'bound'; }).length;
    $('checks-summary').textContent = (checks.length - failing.length) + ' / ' + checks.length +
      ' hold · ' + evidence.length + ' evidence, ' + (checks.length - evidence.length - bounds) +
      ' constraint' + (bounds ? ', ' + bounds + ' bound' : '');

    var key = JSON.stringify(checks);
    if (key !== state.checksKey) {
      state.checksKey = key;
      renderChecks(checks);
    }
    renderRuns(Array.isArray(p.stampede_runs) ? p.stampede_runs : []);
  }

  /* The seal position, the sealer's backlog and the last full pass (/proof's
   * seal, backlog and full_audit). */
  function renderSealing(p) {
    var seal = p.seal;
    $('seal-pos').textContent = seal
      ? 'seal ' + fmtNum(seal.seal_no) + ' · ' + fmtNum(seal.tree_size) + ' records'
      : 'nothing sealed yet';
    $('seal-pos').title = seal ? 'sealed at ' + seal.sealed_at : '';
    var b = p.backlog || {};
    $('backlog').textContent = fmtNum(b.rows) + ' rows · oldest ' + fmtNum(b.oldest_age_s) + ' s';
    var fa = p.full_audit;
    var e = $('full-audit');
    e.textContent = fa
      ? fa.status + ' · ' + (fa.seal_no == null ? 'nothing sealed' : 'seal ' + fmtNum(fa.seal_no)) +
        ' · ' + fmtNum(fa.rows_read) + ' rows · ' +
        fmtSnapshot(fa.finished_at)
      : 'none yet';
    e.title = fa ? 'every ' + fa.interval_s + ' s at most; finished ' + fa.finished_at : '';
    e.className = fa ? (fa.status === 'passed' ? 'gate-ok' : 'gate-fail') : '';
  }

  function renderChecks(checks) {
    /* Failing first, then evidence, then constraints; server order within each. */
    var order = checks.map(function (c, i) {
      return { c: c, rank: (c.ok ? 2 : 0) + (c.kind === 'evidence' ? 0 : 1), i: i };
    }).sort(function (a, b) { return a.rank - b.rank || a.i - b.i; });
    var list = $('checks');
    var frag = document.createDocumentFragment();

    order.forEach(function (o) {
      var c = o.c;
      var li = el('li', 'check ' + (c.ok ? 'check-ok' : 'check-fail') + ' kind-' + (c.kind || 'evidence'));
      li.setAttribute('data-check', c.name);
      li.setAttribute('data-ok', c.ok ? 'true' : 'false');

      var status = el('span', 'check-status', c.ok ? '✓' : '✗');
      status.setAttribute('aria-label', c.ok ? 'holds' : 'fails');
      li.appendChild(status);

      var main = el('div', 'check-main');
      var head = el('div', 'check-head');
      head.appendChild(el('code', 'check-name', c.name));
      head.appendChild(c.kind === 'constraint'
        ? el('span', 'tag tag-constraint', 'constraint (not evidence)')
        : c.kind === 'bound' ? el('span', 'tag tag-bound', 'bound')
          : el('span', 'tag tag-evidence', 'evidence'));
      if (!c.ok) head.appendChild(el('span', 'tag tag-fail', 'FAILING'));
      main.appendChild(head);
      main.appendChild(el('p', 'check-desc', c.description || ''));
      if (c.covers) main.appendChild(el('p', 'check-covers', 'covers: ' + c.covers));
      if (!c.ok && c.failed_check) {
        main.appendChild(el('p', 'check-failed', 'the full pass failed ' + c.failed_check));
      }
      if (!c.ok && c.sample) {
        var sample = el('p', 'check-sample');
        sample.appendChild(el('span', 'sample-label', 'sample ids: '));
        String(c.sample).split(',').forEach(function (s, i) {
          if (i) sample.appendChild(document.createTextNode(' '));
          sample.appendChild(el('code', 'sample-id', s));
        });
        main.appendChild(sample);
      }
      li.appendChild(main);

      var values = el('dl', 'check-values');
      [['observed', c.observed], ['expected', c.expected]].forEach(function (kv) {
        var d = el('div', 'value value-' + kv[0]);
        d.appendChild(el('dt', null, kv[0]));
        d.appendChild(el('dd', null, fmtNum(kv[1])));
        values.appendChild(d);
      });
      li.appendChild(values);
      frag.appendChild(li);
    });
    list.replaceChildren(frag);
  }

  function summaryText(s) {
    if (!s || typeof s !== 'object') return '';
    var parts = [];
    Object.keys(s).forEach(function (k) {
      var v = s[k];
      if (k === 'ok' || k === 'scenario' || k === 'n' || k === 'k' || v === null || typeof v === 'object') return;
      var unit = /_(ms|s)$/.exec(k);
      var name = (unit ? k.slice(0, -unit[0].length) : k).replace(/_/g, ' ');
      parts.push(name + ' ' + (typeof v === 'number' ? fmtNum(v) : String(v)) + (unit ? ' ' + unit[1] : ''));
    });
    parts = parts.slice(0, 6);
    if (s.checks && typeof s.checks === 'object') {
      var names = Object.keys(s.checks);
      var held = names.filter(function (k) { return s.checks[k] === true; }).length;
      parts.unshift(held + '/' + names.length + ' client checks');
    }
    if (typeof s.failures === 'number' && s.failures) {
      parts.unshift(s.failures + ' failure' + (s.failures === 1 ? '' : 's') + ' (details for admins)');
    }
    if (Array.isArray(s.failures) && s.failures.length) {
      parts.unshift('failed: ' + s.failures.map(function (f) {
        return typeof f === 'string' ? f : (f && (f.check || f.name)) || JSON.stringify(f);
      }).join(', '));
    }
    return parts.join(' · ');
  }

  function statusPill(status, summary) {
    var verdict = status;
    if (status === 'passed') verdict = 'passed ✓';
    else if (status === 'failed') verdict = 'failed ✗';
    else if (status === 'running') verdict = 'running…';
    var p = el('span', 'pill pill-' + status, verdict);
    if (summary && summary.error) p.title = String(summary.error);
    return p;
  }

  /* data-label: the column's name, shown before the value where the table is
     laid out as cards (narrow screens). */
  function labelled(td, label) {
    td.setAttribute('data-label', label);
    return td;
  }

  function renderRuns(runs) {
    var key = JSON.stringify(runs);
    if (key === state.runsKey) return;
    state.runsKey = key;
    var tbody = $('runs').tBodies[0];
    var frag = document.createDocumentFragment();
    if (!runs.length) {
      var tr = el('tr', 'empty');
      var td = el('td', null, 'No stampede has run yet. An admin can start one below.');
      td.colSpan = 7;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    runs.forEach(function (r) {
      var tr = el('tr');
      tr.setAttribute('data-run', r.id);
      var t = el('td', 'time', fmtTime(r.created_at));
      t.title = (r.created_at || '') + '\nrun ' + r.id;
      tr.appendChild(t);
      tr.appendChild(el('td', 'scenario', r.scenario));
      tr.appendChild(labelled(el('td', 'num', fmtNum(r.n)), 'n'));
      tr.appendChild(labelled(el('td', 'num', r.k === null || r.k === undefined ? '—' : fmtNum(r.k)), 'k'));
      var st = el('td', 'status-cell');
      st.appendChild(statusPill(r.status, r.summary));
      tr.appendChild(st);
      var sum = el('td', 'summary', summaryText(r.summary) || (r.summary && r.summary.error) || '');
      tr.appendChild(sum);
      var a = parseTs(r.created_at), b = parseTs(r.finished_at);
      tr.appendChild(labelled(el('td', 'num', a !== null && b !== null ? fmtDuration(b - a) : '—'), 'took'));
      frag.appendChild(tr);
    });
    tbody.replaceChildren(frag);
  }

  function renderProofError(err) {
    $('badge').setAttribute('data-state', 'unknown');
    $('badge-icon').textContent = '?';
    $('badge-text').textContent = 'unknown';
    $('badge-sub').textContent = 'no verdict: ' + err.message;
    $('gate').textContent = 'no answer';
    $('gate').className = 'gate-fail';
    document.title = '? unknown · zerosum';
  }

  /* ------------------------------------------------------------ activity */

  function renderActivity(a) {
    var transfers = Array.isArray(a.transfers) ? a.transfers : [];
    var bids = Array.isArray(a.bids) ? a.bids : [];

    var kinds = Array.isArray(a.transfer_kinds) ? a.transfer_kinds : [];
    var redacted = a.redacted !== false;
    var tk = JSON.stringify([redacted, transfers, kinds]);
    if (tk !== state.transfersKey) {
      state.transfersKey = tk;
      var tb = $('transfers').tBodies[0];
      var frag = document.createDocumentFragment();
      $('transfers').setAttribute('data-feed', redacted ? 'redacted' : 'full');
      $('transfers-note').textContent = redacted
        ? 'counts by kind: parties and amounts are shown to an admin token only'
        : 'the 20 most recent, in full (admin)';
      if (redacted) {
        if (!kinds.length) frag.appendChild(emptyRow(4, 'No transfers yet.'));
        kinds.forEach(function (k) {
          var tr = el('tr', 'redacted');
          tr.appendChild(el('td', 'time', 'all'));
          tr.appendChild(kindCell(k.kind));
          tr.appendChild(el('td', 'parties', 'hidden'));
          tr.appendChild(labelled(el('td', 'num amount', fmtNum(k.count) + ' transfers'), 'count'));
          frag.appendChild(tr);
        });
        transfers = [];
      } else if (!transfers.length) frag.appendChild(emptyRow(4, 'No transfers yet.'));
      transfers.forEach(function (t) {
        var tr = el('tr');
        var time = el('td', 'time', fmtTime(t.created_at));
        time.title = t.created_at + '\ntransfer ' + t.id;
        tr.appendChild(time);
        tr.appendChild(kindCell(t.kind));
        var ft = el('td', 'parties');
        ft.appendChild(idSpan(t.from));
        ft.appendChild(el('span', 'arrow', ' → '));
        ft.appendChild(idSpan(t.to));
        tr.appendChild(ft);
        tr.appendChild(el('td', 'num amount', fmtNum(t.amount)));
        frag.appendChild(tr);
      });
      tb.replaceChildren(frag);
    }

    var bk = JSON.stringify(bids) + '|' + ((a.lot_bids && a.lot_bids.lot) || '');
    if (bk !== state.bidsKey) {
      state.bidsKey = bk;
      var bb = $('bids').tBodies[0];
      var bfrag = document.createDocumentFragment();
      if (!bids.length) bfrag.appendChild(emptyRow(5, 'No bids yet.'));
      bids.forEach(function (b) {
        var tr = el('tr');
        var time = el('td', 'time', fmtTime(b.created_at));
        time.title = b.created_at + '\nbid ' + b.id + ' · seq ' + b.seq;
        tr.appendChild(time);
        var lot = el('td', 'lot');
        if (b.kind === 'english') {
          var btn = el('button', 'link-button id', shortId(b.lot));
          btn.type = 'button';
          btn.title = 'chart lot ' + b.lot;
          btn.setAttribute('data-lot', b.lot);
          if (a.lot_bids && a.lot_bids.lot === b.lot) btn.classList.add('charted');
          lot.appendChild(btn);
        } else {
          lot.appendChild(idSpan(b.lot));
        }
        lot.appendChild(el('span', 'lot-kind', b.kind));
        tr.appendChild(lot);
        var bidder = el('td');
        bidder.appendChild(idSpan(b.bidder));
        tr.appendChild(bidder);
        tr.appendChild(el('td', 'num amount', fmtNum(b.amount) + (b.quantity > 1 ? ' ×' + b.quantity : '')));
        var st = el('td');
        st.appendChild(el('span', 'pill pill-' + b.status, b.status));
        tr.appendChild(st);
        bfrag.appendChild(tr);
      });
      bb.replaceChildren(bfrag);
    }

    renderBidChart(a.lot_bids || { lot: null, points: [] });
  }

  function emptyRow(cols, text) {
    var tr = el('tr', 'empty');
    var td = el('td', null, text);
    td.colSpan = cols;
    tr.appendChild(td);
    return tr;
  }

  function kindCell(kind) {
    var td = el('td');
    td.appendChild(el('span', 'kind kind-' + kind, kind));
    return td;
  }

  /* ------------------------------------------------------------ holds */

  /* A cell showing "count · amount" (or one number), with the raw values in
     data-count / data-amount for the tests. */
  function holdCell(count, amount, label) {
    var td = el('td', 'num', amount === undefined ? fmtNum(count) : fmtNum(count) + ' · ' + fmtNum(amount));
    td.setAttribute('data-count', String(count));
    if (amount !== undefined) td.setAttribute('data-amount', String(amount));
    return labelled(td, label);
  }

  /* GET /proof/holds: per account kind, what is held and what holds it. */
  function renderHolds(h) {
    var kinds = Array.isArray(h.kinds) ? h.kinds : [];
    var key = JSON.stringify(kinds);
    if (key === state.holdsKey) return;
    state.holdsKey = key;
    var frag = document.createDocumentFragment();
    if (!kinds.length) frag.appendChild(emptyRow(8, 'No accounts yet.'));
    kinds.forEach(function (k) {
      var tr = el('tr');
      tr.setAttribute('data-kind', k.kind);
      tr.appendChild(kindCell(k.kind));
      tr.appendChild(holdCell(k.accounts, undefined, 'accounts'));
      var held = holdCell(k.held, undefined, 'held');
      held.title = k.holding_accounts + ' account(s) hold something';
      tr.appendChild(held);
      tr.appendChild(holdCell(k.pending_transfers, k.pending_amount, 'pending transfers'));
      tr.appendChild(holdCell(k.lot_holds, k.lot_held, 'lot holds'));
      tr.appendChild(holdCell(k.order_holds, k.order_held, 'buy-order holds'));
      tr.appendChild(holdCell(k.credit_used, k.credit_limit, 'credit used / limits'));
      tr.appendChild(holdCell(k.overdrawn_accounts, undefined, 'overdrawn'));
      frag.appendChild(tr);
    });
    $('holds-table').tBodies[0].replaceChildren(frag);
    $('holds-note').textContent = 'what is reserved and why, as of ' + (h.as_of ? fmtTime(h.as_of) + ' UTC' : '—')
      + ': held = pending transfers + lot holds + buy-order holds';
  }

  /* ------------------------------------------------------------ charts */

  function chartWidth(id) {
    var w = $(id).clientWidth;
    return Math.max(200, w || 300);
  }

  function axisStyle() {
    var ink = cssVar('--muted', '#667085');
    var grid = cssVar('--grid', '#e4e7ec');
    return {
      stroke: ink,
      grid: { stroke: grid, width: 1 },
      ticks: { stroke: grid, width: 1 },
      font: '12px system-ui, sans-serif'
    };
  }

  function renderBidChart(lb) {
    var points = Array.isArray(lb.points) ? lb.points : [];
    var label = $('chart-lot');
    state.shownLot = lb.lot || null;
    if (lb.lot) {
      label.textContent = 'lot ' + shortId(lb.lot) + ' · ' + points.length + ' accepted bid' +
        (points.length === 1 ? '' : 's') + (state.chartLot ? ' · pinned' : ' · latest');
      label.title = lb.lot;
    } else {
      label.textContent = 'no English lot has bids yet';
      label.title = '';
    }
    $('chart-follow').hidden = !state.chartLot;

    var empty = points.length === 0;
    $('bid-chart').hidden = empty;
    $('bid-chart-empty').hidden = !empty;
    if (empty || !window.uPlot) return;

    var data = [points.map(function (p) { return p[0]; }), points.map(function (p) { return p[1]; })];
    var key = JSON.stringify(data) + lb.lot;
    if (state.bidChart && state.bidData === key) return;
    state.bidData = key;
    if (state.bidChart) {
      state.bidChart.setData(data);
      return;
    }
    var accent = cssVar('--accent', '#2563eb');
    var ax = axisStyle();
    state.bidChart = new window.uPlot({
      width: chartWidth('bid-chart'),
      height: BID_CHART_H,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      scales: { x: { time: false } },
      axes: [
        Object.assign({ label: 'sequence', labelSize: 20, labelFont: ax.font }, ax, {
          values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? String(v) : ''; }); }
        }),
        Object.assign({ size: 56 }, ax, {
          values: function (u, vals) { return vals.map(function (v) { return nf.format(v); }); }
        })
      ],
      series: [
        { label: 'seq', value: function (u, v) { return v === null || v === undefined ? '—' : String(v); } },
        {
          label: 'amount',
          value: function (u, v) { return v === null || v === undefined ? '—' : nf.format(v); },
          stroke: accent,
          width: 2,
          fill: cssVar('--accent-fill', 'rgba(37,99,235,0.08)'),
          points: { show: true, size: 6, fill: accent }
        }
      ]
    }, data, $('bid-chart'));
  }

  function renderRetryChart(counts) {
    if (!window.uPlot) return;
    var data = [[0, 1, 2, 3, 4, 5], counts];
    var key = JSON.stringify(counts);
    if (state.retryChart && state.retryData === key) return;
    state.retryData = key;
    if (state.retryChart) {
      state.retryChart.setData(data);
      return;
    }
    var ax = axisStyle();
    var bar = cssVar('--bar', '#7c3aed');
    state.retryChart = new window.uPlot({
      width: chartWidth('retry-chart'),
      height: 180,
      legend: { show: false },
      cursor: { show: false },
      scales: {
        x: { time: false, range: [-0.5, 5.5] },
        y: { range: function (u, min, max) { return [0, Math.max(1, max) * 1.1]; } }
      },
      axes: [
        Object.assign({ label: 'retries before the commit', labelSize: 20, labelFont: ax.font }, ax, {
          splits: function () { return [0, 1, 2, 3, 4, 5]; },
          values: function (u, vals) { return vals.map(function (v) { return RETRY_LABELS[v] || ''; }); }
        }),
        Object.assign({ size: 56 }, ax, {
          values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? nf.format(v) : ''; }); }
        })
      ],
      series: [
        {},
        {
          label: 'commits',
          stroke: bar,
          fill: cssVar('--bar-fill', 'rgba(124,58,237,0.55)'),
          width: 1,
          paths: window.uPlot.paths.bars({ size: [0.7, 80] }),
          points: { show: false }
        }
      ]
    }, data, $('retry-chart'));
  }

  function resizeCharts() {
    if (state.bidChart && !$('bid-chart').hidden) state.bidChart.setSize({ width: chartWidth('bid-chart'), height: BID_CHART_H });
    if (state.retryChart) state.retryChart.setSize({ width: chartWidth('retry-chart'), height: 180 });
    if (state.marketChart && !$('market-chart').hidden && !$('market').hidden) {
      state.marketChart.setSize({ width: chartWidth('market-chart'), height: MARKET_CHART_H });
    }
  }

  /* ------------------------------------------------------------ markets */

  /* GET /markets (most recent first), then the chosen market's book and
     trades: the pinned one if it still exists, else the newest. */
  function loadMarkets() {
    return getJSON('/markets?limit=50').then(function (body) {
      /* one cursor page ({object: "list", data, has_more}): the 50 newest */
      var list = body && Array.isArray(body.data) ? body.data : [];
      var id = state.market;
      if (id && !list.some(function (m) { return m.id === id; }) && body && body.has_more) {
        /* older markets exist beyond this page: a pinned one is still fetched directly */
      } else if (id && !list.some(function (m) { return m.id === id; })) {
        id = null;                       /* gone (a wiped database): follow the latest again */
        setMarketPin(null);
      }
      if (!id && list.length) id = list[0].id;
      if (!id) return { list: list, detail: null };
      return getJSON('/markets/' + encodeURIComponent(id)).then(function (detail) {
        return { list: list, detail: detail };
      }, function (e) {
        if (e.status !== 404 || !state.market) throw e;
        setMarketPin(null);              /* the pinned market is gone */
        return { list: list, detail: null };
      });
    });
  }

  function setMarketPin(id) {
    state.market = id;
    storageSet(MARKET_KEY, id);
  }

  function marketLabel(m) {
    var st = m.status === 'resolved' && m.outcome ? 'resolved ' + String(m.outcome).toUpperCase() : m.status;
    return m.title + ' — ' + m.kind + ' · ' + st;
  }

  function renderMarketPicker(list, detail) {
    var picker = $('market-picker');
    picker.hidden = list.length === 0;
    $('market-follow').hidden = !state.market;
    var current = detail && detail.market ? detail.market : null;
    var rows = list.slice();
    if (current && !rows.some(function (m) { return m.id === current.id; })) rows.push(current);
    var key = JSON.stringify(rows.map(function (m) { return [m.id, m.title, m.kind, m.status, m.outcome]; }));
    var select = $('market-select');
    if (key !== state.marketsKey) {
      state.marketsKey = key;
      var frag = document.createDocumentFragment();
      rows.forEach(function (m, i) {
        var o = el('option', null, marketLabel(m) + (i === 0 ? ' (latest)' : ''));
        o.value = m.id;
        frag.appendChild(o);
      });
      select.replaceChildren(frag);
    }
    if (current && select.value !== current.id) select.value = current.id;
    select.title = current ? current.id : '';
  }

  /* An event trade's price in YES terms: a mint row already carries the YES
     price; a NO contract at q is YES at 100 − q. */
  function yesPrice(t) {
    return t.outcome === 'no' ? 100 - t.price : t.price;
  }

  function pct(p) {
    if (typeof p !== 'number' || !isFinite(p)) return '—';
    var v = Math.round(p * 1000) / 10;
    return (Number.isInteger(v) ? String(v) : v.toFixed(1)) + '%';
  }

  function renderMarkets(r) {
    var list = r.list, d = r.detail;
    $('markets-empty').hidden = list.length > 0 || !!d;
    renderMarketPicker(list, d);
    if (!d || !d.market) {
      $('market').hidden = true;
      if (state.marketChart) {
        state.marketChart.destroy();
        state.marketChart = null;
        state.marketChartFor = '';
        state.marketData = null;
      }
      return;
    }
    $('market').hidden = false;
    var key = JSON.stringify(d);
    if (key === state.marketKey && state.marketChart) return;
    state.marketKey = key;

    var m = d.market;
    var event = m.kind === 'event';
    var trades = Array.isArray(d.trades) ? d.trades.slice().reverse() : [];  /* oldest first */
    var book = d.book || {};
    var outs = event ? ['yes', 'no'] : ['shares'];
    var outstanding = d.outstanding || {};

    $('market').setAttribute('data-market', m.id);
    $('market').setAttribute('data-kind', m.kind);
    $('market-title').textContent = m.title;
    $('market-kind').textContent = m.kind === 'event' ? 'event · yes/no' : 'shares';
    $('market-kind').className = 'kind kind-' + m.kind;
    var status = $('market-status');
    status.textContent = m.status === 'resolved' && m.outcome ? 'resolved ' + String(m.outcome).toUpperCase()
      : m.status === 'resolving' && m.outcome ? 'resolving ' + String(m.outcome).toUpperCase() : m.status;
    status.className = 'pill pill-market-' + m.status + (m.outcome ? ' pill-outcome-' + m.outcome : '');

    var meta = $('market-meta');
    meta.replaceChildren();
    meta.appendChild(document.createTextNode('market '));
    meta.appendChild(idSpan(m.id));
    if (!event && m.owner) {
      meta.appendChild(document.createTextNode(' · owner '));
      meta.appendChild(idSpan(m.owner));
    }
    meta.appendChild(document.createTextNode(' · created ' + fmtTime(m.created_at) + ' UTC' +
      (m.resolved_at ? ' · settled ' + fmtTime(m.resolved_at) + ' UTC' : '') +
      ' · ticks ' + m.tick_min + '–' + m.tick_max));

    /* headline price */
    var last = trades.length ? trades[trades.length - 1] : null;
    if (event) {
      $('market-price-label').textContent = m.status === 'open' ? 'implied probability' : 'last implied probability';
      $('market-price').textContent = pct(d.implied_probability);
      $('market-price-sub').textContent = m.status === 'resolved' && m.outcome
        ? 'of YES · settled ' + String(m.outcome).toUpperCase() + ': each ' + String(m.outcome).toUpperCase() + ' contract paid 100'
        : m.status === 'cancelled' ? 'of YES · cancelled: holders refunded at cost'
        : 'of YES · ' + (last
        ? 'last: ' + (last.kind === 'mint' ? fmtNum(last.quantity) + ' pair' + (last.quantity === 1 ? '' : 's') + ' minted at YES ' + last.price
          : last.outcome.toUpperCase() + ' at ' + last.price + (last.outcome === 'no' ? ' = YES ' + yesPrice(last) : ''))
        : 'no trades yet');
    } else {
      $('market-price-label').textContent = 'last price';
      $('market-price').textContent = fmtNum(m.last_price);
      $('market-price-sub').textContent = last ? 'last trade: ' + fmtNum(last.quantity) + ' at ' + fmtNum(last.price) : 'no trades yet';
    }
    $('market-price').setAttribute('data-value', event ? String(d.implied_probability) : String(m.last_price));

    /* outstanding contracts */
    var outEl = $('market-outstanding');
    outEl.classList.remove('bad');
    if (event) {
      var y = outstanding.yes || 0, n = outstanding.no || 0;
      $('market-outstanding-label').textContent = 'outstanding pairs';
      outEl.textContent = y === n ? fmtNum(y) : fmtNum(Math.min(y, n)) + '?';
      $('market-outstanding-sub').textContent = 'YES ' + fmtNum(y) + (y === n ? ' = ' : ' ≠ ') + 'NO ' + fmtNum(n);
      if (y !== n) outEl.classList.add('bad');
    } else {
      var sh = outstanding.shares || 0;
      $('market-outstanding-label').textContent = 'shares outstanding';
      outEl.textContent = fmtNum(sh);
      $('market-outstanding-sub').textContent = 'of a fixed supply of ' + fmtNum(m.total_supply) +
        (sh === m.total_supply ? '' : ' — MISMATCH');
      if (sh !== m.total_supply) outEl.classList.add('bad');
    }
    outEl.setAttribute('data-yes', String(outstanding.yes === undefined ? '' : outstanding.yes));
    outEl.setAttribute('data-no', String(outstanding.no === undefined ? '' : outstanding.no));

    /* top of book (YES for events) */
    var top = book[outs[0]] || { bids: [], asks: [] };
    var bb = top.bids && top.bids.length ? top.bids[0][0] : null;
    var ba = top.asks && top.asks.length ? top.asks[0][0] : null;
    $('market-top-label').textContent = event ? 'YES best bid / ask' : 'best bid / ask';
    $('market-top').textContent = (bb === null ? '—' : fmtNum(bb)) + ' / ' + (ba === null ? '—' : fmtNum(ba));
    $('market-top-sub').textContent = bb !== null && ba !== null ? 'spread ' + fmtNum(ba - bb)
      : bb === null && ba === null ? 'empty book' : 'one-sided book';

    /* trades */
    var vol = trades.reduce(function (a, t) { return a + t.quantity; }, 0);
    $('market-trades').textContent = fmtNum(trades.length) + (trades.length >= 100 ? '+' : '');
    $('market-trades-sub').textContent = (trades.length ? fmtNum(vol) + (event ? ' contracts' : ' shares') + ' traded' : 'none yet') +
      (trades.length >= 100 ? ' (last 100)' : '');

    renderBooks(book, outs, m);
    renderMarketChart(m, trades);
  }

  function renderBooks(book, outs, m) {
    var event = m.kind === 'event';
    var max = 1;
    outs.forEach(function (o) {
      var b = book[o] || {};
      ['bids', 'asks'].forEach(function (side) {
        (b[side] || []).slice(0, BOOK_LEVELS).forEach(function (l) { max = Math.max(max, l[1]); });
      });
    });
    var frag = document.createDocumentFragment();
    outs.forEach(function (o) {
      var b = book[o] || { bids: [], asks: [] };
      var box = el('section', 'book book-' + o);
      box.setAttribute('data-outcome', o);
      var head = el('div', 'book-head');
      head.appendChild(el('h4', 'book-title', event ? o.toUpperCase() + ' book' : 'Order book'));
      var bids = b.bids || [], asks = b.asks || [];
      var spread = bids.length && asks.length ? 'spread ' + fmtNum(asks[0][0] - bids[0][0]) : '';
      var depth = sum(bids) + sum(asks);
      head.appendChild(el('span', 'book-note', [spread, depth ? fmtNum(depth) + (event ? ' contracts' : ' shares') + ' resting' : 'empty']
        .filter(Boolean).join(' · ')));
      box.appendChild(head);
      var sides = el('div', 'book-sides');
      sides.appendChild(bookSide('bids', bids, max));
      sides.appendChild(bookSide('asks', asks, max));
      box.appendChild(sides);
      frag.appendChild(box);
    });
    var books = $('market-books');
    books.className = 'books books-' + outs.length;
    books.replaceChildren(frag);
    $('market-book-hint').textContent = event
      ? 'A YES bid at p also meets a NO bid at 100 − p or more: the two buys mint a pair of contracts into escrow (100 per pair). Levels aggregate every resting order at a price.'
      : 'Levels aggregate every resting order at a price; the owner\u2019s supply is sold from the asks.';
  }

  function sum(levels) {
    return levels.reduce(function (a, l) { return a + l[1]; }, 0);
  }

  function bookSide(side, levels, max) {
    var col = el('div', 'book-side side-' + side);
    var head = el('div', 'level level-head');
    if (side === 'bids') {
      head.appendChild(el('span', 'qty', 'qty'));
      head.appendChild(el('span', 'px', 'bid'));
    } else {
      head.appendChild(el('span', 'px', 'ask'));
      head.appendChild(el('span', 'qty', 'qty'));
    }
    col.appendChild(head);
    var ol = el('ol', 'levels');
    ol.setAttribute('data-side', side);
    ol.setAttribute('aria-label', side);
    if (!levels.length) ol.appendChild(el('li', 'level level-empty', side === 'bids' ? 'no bids' : 'no asks'));
    levels.slice(0, BOOK_LEVELS).forEach(function (l) {
      var li = el('li', 'level');
      li.setAttribute('data-price', String(l[0]));
      li.setAttribute('data-qty', String(l[1]));
      var bar = el('span', 'depth');
      bar.setAttribute('aria-hidden', 'true');
      /* CSSOM, not a style attribute: allowed under style-src 'self' */
      bar.style.width = Math.max(2, Math.round(1000 * l[1] / max) / 10) + '%';
      li.appendChild(bar);
      var px = el('span', 'px', fmtNum(l[0]));
      var qty = el('span', 'qty', fmtNum(l[1]));
      if (side === 'bids') { li.appendChild(qty); li.appendChild(px); } else { li.appendChild(px); li.appendChild(qty); }
      ol.appendChild(li);
    });
    if (levels.length > BOOK_LEVELS) {
      var more = levels.slice(BOOK_LEVELS);
      ol.appendChild(el('li', 'level level-more', '+' + more.length + ' more level' + (more.length === 1 ? '' : 's') +
        ' · ' + fmtNum(sum(more))));
    }
    col.appendChild(ol);
    return col;
  }

  function renderMarketChart(m, trades) {
    var event = m.kind === 'event';
    var box = $('market-chart');
    var empty = trades.length === 0;
    box.hidden = empty;
    box.setAttribute('data-points', '0');
    $('market-chart-empty').hidden = !empty;
    $('market-chart-empty').classList.toggle('is-event', event);
    $('market-chart-title').textContent = event ? 'YES price by trade sequence' : 'Price by trade sequence';
    $('market-chart-note').textContent = empty ? '' : fmtNum(trades.length) + ' trade' + (trades.length === 1 ? '' : 's') +
      (trades.length >= 100 ? ' (the last 100)' : '') + (event ? ' · NO trades shown as YES = 100 − price' : '');
    var forKey = m.id + '|' + m.kind;
    if (state.marketChart && (empty || state.marketChartFor !== forKey)) {
      state.marketChart.destroy();
      state.marketChart = null;
      state.marketData = null;
    }
    if (empty || !window.uPlot) return;

    var qty = trades.map(function (t) { return t.quantity; });
    var kinds = trades.map(function (t) { return t.kind; });
    var data = [
      trades.map(function (t) { return t.seq; }),
      trades.map(function (t) { return event ? yesPrice(t) : t.price; })
    ];
    var dkey = JSON.stringify(data) + JSON.stringify(qty);
    state.marketChartFor = forKey;
    state.marketQty = qty;
    state.marketKinds = kinds;
    if (state.marketChart) {
      if (state.marketData !== dkey) {
        state.marketData = dkey;
        state.marketChart.setData(data);
      }
      box.setAttribute('data-points', String(state.marketChart.data[0].length));
      return;
    }
    state.marketData = dkey;
    var line = cssVar('--accent', '#2563eb');
    var ax = axisStyle();
    state.marketChart = new window.uPlot({
      width: chartWidth('market-chart'),
      height: MARKET_CHART_H,
      legend: { show: true, live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 9 } },
      scales: {
        x: {
          time: false,
          range: function (u, min, max) { return min === max ? [min - 1, max + 1] : [min - 0.5, max + 0.5]; }
        },
        y: event
          ? { range: [0, 100] }
          : { range: function (u, min, max) { var pad = Math.max(1, (max - min) * 0.15); return [Math.max(0, min - pad), max + pad]; } }
      },
      axes: [
        Object.assign({ label: 'trade sequence', labelSize: 20, labelFont: ax.font }, ax, {
          values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? String(v) : ''; }); }
        }),
        Object.assign({ size: 48 }, ax, event ? {
          splits: function () { return [0, 25, 50, 75, 100]; },
          values: function (u, vals) { return vals.map(function (v) { return v + '%'; }); }
        } : {
          values: function (u, vals) { return vals.map(function (v) { return Number.isInteger(v) ? nf.format(v) : ''; }); }
        })
      ],
      series: [
        { label: 'seq', value: function (u, v) { return v === null || v === undefined ? '—' : String(v); } },
        {
          label: event ? 'YES price' : 'price',
          value: function (u, v, si, i) {
            if (v === null || v === undefined) return '—';
            var q = state.marketQty && i !== null && i !== undefined ? state.marketQty[i] : null;
            var k = state.marketKinds && i !== null && i !== undefined ? state.marketKinds[i] : null;
            return nf.format(v) + (q !== null && q !== undefined ? ' × ' + nf.format(q) : '') + (k === 'mint' ? ' (mint)' : '');
          },
          stroke: line,
          width: 2,
          fill: cssVar('--accent-fill', 'rgba(37,99,235,0.08)'),
          points: { show: true, size: 7, fill: line }
        }
      ]
    }, data, box);
    box.setAttribute('data-points', String(state.marketChart.data[0].length));
  }

  /* ------------------------------------------------------------ /metrics */

  function parseMetrics(text) {
    var out = [];
    text.split('\n').forEach(function (line) {
      if (!line || line.charAt(0) === '#') return;
      var m = /^([A-Za-z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
      if (!m) return;
      var labels = {};
      var re = /(\w+)="((?:[^"\\]|\\.)*)"/g, l;
      while ((l = re.exec(m[2] || '')) !== null) labels[l[1]] = l[2];
      out.push({ name: m[1], labels: labels, value: Number(m[3]) });
    });
    return out;
  }

  /* Upper bound of the bucket holding quantile q of a cumulative histogram. */
  function quantile(buckets, q) {
    var total = buckets.length ? buckets[buckets.length - 1].count : 0;
    if (!total) return null;
    var want = q * total;
    for (var i = 0; i < buckets.length; i++) {
      if (buckets[i].count >= want) return buckets[i].le;
    }
    return Infinity;
  }

  function renderMetrics(text) {
    var samples = parseMetrics(text);
    var cum = {};
    var retriesByEp = {}, reqByEp = {}, durByEp = {}, commits = 0, attempts = 0;

    samples.forEach(function (s) {
      switch (s.name) {
      case 'zerosum_tx_retries_per_commit_bucket':
        cum[s.labels.le] = s.value;
        break;
      case 'zerosum_tx_retries_total':
        retriesByEp[s.labels.endpoint] = (retriesByEp[s.labels.endpoint] || 0) + s.value;
        break;
      case 'zerosum_tx_commits_total':
        commits += s.value;
        break;
      case 'zerosum_tx_attempts_total':
        attempts += s.value;
        break;
      case 'zerosum_requests_total':
        reqByEp[s.labels.endpoint] = (reqByEp[s.labels.endpoint] || 0) + s.value;
        break;
      case 'zerosum_request_duration_seconds_bucket':
        (durByEp[s.labels.endpoint] = durByEp[s.labels.endpoint] || []).push({
          le: s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), count: s.value
        });
        break;
      }
    });

    /* Cumulative le="0","1","2","3","5","+Inf" → per-bucket counts. */
    var les = ['0', '1', '2', '3', '5', '+Inf'];
    var counts = [], prev = 0;
    les.forEach(function (le) {
      var c = cum[le] || 0;
      counts.push(Math.max(0, c - prev));
      prev = Math.max(prev, c);
    });
    var totalCommits = cum['+Inf'] || 0;
    var retried = totalCommits - (cum['0'] || 0);
    var totalRetries = Object.keys(retriesByEp).reduce(function (a, k) { return a + retriesByEp[k]; }, 0);
    $('retries-note').textContent = fmtNum(totalCommits) + ' commits · ' + fmtNum(retried) +
      ' needed a retry' + (totalCommits ? ' (' + (100 * retried / totalCommits).toFixed(1) + '%)' : '') +
      ' · ' + fmtNum(totalRetries) + ' retries in all';
    renderRetryChart(counts);

    var tbody = $('endpoints').tBodies[0];
    var frag = document.createDocumentFragment();
    Object.keys(reqByEp).filter(function (ep) { return reqByEp[ep] > 0; }).sort().forEach(function (ep) {
      var tr = el('tr');
      var b = (durByEp[ep] || []).sort(function (x, y) { return x.le - y.le; });
      tr.appendChild(el('td', null, ep));
      tr.appendChild(el('td', 'num', fmtNum(reqByEp[ep])));
      tr.appendChild(el('td', 'num', fmtSeconds(quantile(b, 0.5))));
      tr.appendChild(el('td', 'num', fmtSeconds(quantile(b, 0.99))));
      tr.appendChild(el('td', 'num', fmtNum(retriesByEp[ep] || 0)));
      frag.appendChild(tr);
    });
    if (!frag.childNodes.length) frag.appendChild(emptyRow(5, 'No requests counted yet.'));
    tbody.replaceChildren(frag);
  }

  /* ------------------------------------------------------------ live events */

  /* The page subscribes to /events/proof and to the shown lot's channel
   * (EventSource, which resumes with Last-Event-ID by itself after a dropped
   * connection). Any event, or a resync, refreshes the panels at once; while
   * every stream is open the timer is only a slow fallback. The indicator
   * says "streaming" only while every stream is open. */
  var EVENT_TYPES = ['bid.accepted', 'lot.extended', 'lot.settled', 'proof.status', 'resync', 'batch'];
  var streams = {};
  var kickTimer = null;

  function wantedStreams() {
    var w = ['/events/proof'];
    if (state.shownLot) w.push('/events/lots/' + encodeURIComponent(state.shownLot));
    return w;
  }

  function streamsOpen() {
    if (!window.EventSource) return false;
    return wantedStreams().every(function (p) {
      return streams[p] && streams[p].readyState === 1;
    });
  }

  /* An event's position rides in the next refresh's query: nginx keeps
   * anonymous /proof answers for two seconds, and a new query is a new
   * cache key, so each event costs one fresh answer, not a stale one. */
  function seeEvent(e) {
    var id = e ? e.id : null;
    if (typeof id === 'number' && id > (state.eventSeq || 0)) state.eventSeq = id;
  }

  /* A `batch` message carries several of the channel's events, in order:
   * each is handled as if it had come alone. */
  function kick(ev) {
    try {
      var j = ev && ev.data ? JSON.parse(ev.data) : null;
      if (j && j.type === 'batch' && Array.isArray(j.events)) j.events.forEach(seeEvent);
      else seeEvent(j);
    } catch (e) { /* a resync carries no position: refresh all the same */ }
    if (kickTimer) return;
    kickTimer = setTimeout(function () { kickTimer = null; poll(); }, 30);
  }

  function openStream(path) {
    var es = new EventSource(path);
    es.onopen = function () { showLive(); };
    es.onerror = function () {
      /* CONNECTING: the browser retries with Last-Event-ID; CLOSED (a refusal): start afresh */
      if (es.readyState === 2 && streams[path] === es) {
        delete streams[path];
        setTimeout(syncStreams, 2000);
      }
      showLive();
    };
    EVENT_TYPES.forEach(function (t) { es.addEventListener(t, kick); });
    streams[path] = es;
  }

  function syncStreams() {
    if (!window.EventSource) return;
    var want = wantedStreams();
    Object.keys(streams).forEach(function (p) {
      if (want.indexOf(p) < 0) { streams[p].close(); delete streams[p]; }
    });
    want.forEach(function (p) { if (!streams[p]) openStream(p); });
  }

  function showLive() {
    if (document.hidden) return;
    if (state.failures) return; /* poll() says what is wrong */
    var at = state.updatedAt ? ' · updated ' + fmtTime(state.updatedAt) + ' UTC' : '';
    if (streamsOpen()) setLive('live', 'live · streaming' + at);
    else setLive('connecting', 'reconnecting to the event stream' + at);
  }

  /* ------------------------------------------------------------ polling */

  function activityUrl() {
    var q = [];
    if (state.chartLot) q.push('lot=' + encodeURIComponent(state.chartLot));
    if (state.eventSeq) q.push('event=' + state.eventSeq);
    return '/proof/activity' + (q.length ? '?' + q.join('&') : '');
  }

  function poll() {
    clearTimeout(state.timer);
    state.timer = null;
    if (document.hidden) {
      setLive('paused', 'paused while hidden');
      return;
    }
    if (state.inflight) {
      state.again = true;      /* a click while a poll is out: poll again when it lands */
      return;
    }
    state.inflight = true;
    state.again = false;

    Promise.allSettled([getAuthJSON('/proof' + (state.eventSeq ? '?event=' + state.eventSeq : '')),
      getAuthJSON(activityUrl()), getText('/metrics'), loadMarkets(), getAuthJSON('/proof/holds')]).then(function (r) {
      var errors = [];
      if (r[0].status === 'fulfilled') renderProof(r[0].value);
      else { renderProofError(r[0].reason); errors.push(r[0].reason); }
      if (r[1].status === 'fulfilled') renderActivity(r[1].value);
      else errors.push(r[1].reason);
      if (r[2].status === 'fulfilled') renderMetrics(r[2].value);
      else errors.push(r[2].reason);
      if (r[3].status === 'fulfilled') renderMarkets(r[3].value);
      else errors.push(r[3].reason);
      if (r[4].status === 'fulfilled') renderHolds(r[4].value);
      else errors.push(r[4].reason);

      var now = new Date().toISOString();
      if (state.tokenRefused) showTokenState();
      if (errors.length) {
        state.failures++;
        setLive('error', 'trouble: ' + errors[0].message);
      } else {
        state.failures = 0;
        state.updatedAt = now;
        syncStreams();
        showLive();
      }
    }).catch(function (e) {
      setLive('error', 'dashboard error: ' + e.message);
    }).then(function () {
      state.inflight = false;
      if (state.again && !document.hidden) {
        poll();
      } else if (!document.hidden) {
        /* back off gently while the service is not answering */
        state.timer = setTimeout(poll, POLL_MS * Math.min(5, 1 + state.failures));
      } else {
        setLive('paused', 'paused while hidden');
      }
    });
  }

  /* ------------------------------------------------------------ admin */

  function tokenClaims(tok) {
    try {
      var part = tok.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      while (part.length % 4) part += '=';
      return JSON.parse(atob(part));
    } catch (e) {
      return null;
    }
  }

  function showTokenState() {
    var tok = storageGet(TOKEN_KEY);
    var p = $('token-state');
    p.className = 'hint';
    if (!tok) {
      p.textContent = 'No token set. It stays in this tab only (sessionStorage) and is sent only to this site.';
      $('token-forget').disabled = true;
      return;
    }
    $('token-forget').disabled = false;
    var c = tokenClaims(tok);
    if (!c) {
      p.textContent = 'Token set, but it does not look like a JWT; the server will decide.';
      p.classList.add('warn');
      return;
    }
    if (state.tokenRefused) {
      p.textContent = 'The server refused this token (expired or not valid): showing the anonymous view.';
      p.classList.add('warn');
      return;
    }
    var parts = ['Token set for this tab'];
    if (c.scope) parts.push('scope ' + c.scope);
    if (c.exp) {
      var left = c.exp * 1000 - Date.now();
      parts.push(left > 0 ? 'expires in ' + fmtDuration(left) : 'EXPIRED');
      if (left <= 0) p.classList.add('warn');
    }
    if (c.scope && c.scope !== 'admin') {
      parts.push('not an admin token: the server will refuse runs');
      p.classList.add('warn');
    }
    p.textContent = parts.join(' · ') + '.';
  }

  function setRunState(kind, message, summary) {
    var box = $('run-progress');
    box.setAttribute('data-state', kind);
    $('run-message').textContent = message;
    var order = ['queued', 'running', 'done'];
    var reached = { idle: -1, error: -1, queued: 0, running: 1, passed: 2, failed: 2 }[kind];
    Array.prototype.forEach.call(box.querySelectorAll('[data-step]'), function (li) {
      var i = order.indexOf(li.getAttribute('data-step'));
      li.className = i < reached ? 'done' : i === reached ? 'current' : '';
    });
    var pre = $('run-summary');
    if (summary) {
      pre.textContent = JSON.stringify(summary, null, 2);
      pre.hidden = false;
    } else {
      pre.hidden = true;
    }
  }

  function problemText(res, body) {
    if (body && (body.detail || body.title)) {
      return 'HTTP ' + res.status + ' ' + (body.code ? body.code + ': ' : '') + (body.detail || body.title);
    }
    return 'HTTP ' + res.status;
  }

  function followRun(id, started) {
    if (state.run && state.run.timer) clearTimeout(state.run.timer);
    state.run = { id: id, started: started || Date.now(), timer: null };
    storageSet(RUN_KEY, JSON.stringify({ id: id, started: state.run.started }));
    pollRun();
  }

  function pollRun() {
    var run = state.run;
    if (!run) return;
    var runHeaders = { Accept: 'application/json' };
    var runTok = storageGet(TOKEN_KEY);
    if (runTok) runHeaders.Authorization = 'Bearer ' + runTok;
    fetch('/proof/runs/' + encodeURIComponent(run.id), { cache: 'no-store', headers: runHeaders })
      .then(function (res) {
        return res.json().then(function (body) {
          if (!res.ok) {
            var err = new Error(problemText(res, body));
            err.status = res.status;
            throw err;
          }
          return body.run;
        });
      })
      .then(function (r) {
        if (state.run !== run) return;
        var took = fmtDuration(Date.now() - run.started);
        var label = r.scenario + ' n=' + r.n + (r.k !== null && r.k !== undefined ? ' k=' + r.k : '');
        if (r.status === 'passed' || r.status === 'failed') {
          var okSummary = r.summary && r.summary.ok;
          var verdict = r.status === 'passed'
            ? 'Verdict: PASSED — the invariants held under ' + label + '.'
            : 'Verdict: FAILED — ' + label + ': ' + (summaryText(r.summary) || (r.summary && r.summary.error) || 'see the summary') + '.';
          if (r.status === 'passed' && okSummary === false) verdict += ' (summary says ok=false)';
          setRunState(r.status, verdict, r.summary);
          $('run-start').disabled = false;
          poll();
          return;
        }
        setRunState(r.status, 'Run ' + shortId(r.id) + ' (' + label + ') ' + r.status + '… ' + took, null);
        run.timer = setTimeout(pollRun, RUN_POLL_MS);
      })
      .catch(function (e) {
        if (state.run !== run) return;
        if (e.status === 404) {            /* a run of another stack, or a wiped database */
          state.run = null;
          storageSet(RUN_KEY, null);
          $('run-start').disabled = false;
          setRunState('idle', 'No run started from this page yet.', null);
          return;
        }
        setRunState('error', 'Could not read the run: ' + e.message + ' — retrying.', null);
        run.timer = setTimeout(pollRun, RUN_POLL_MS * 3);
      });
  }

  function startRun(ev) {
    ev.preventDefault();
    var tok = storageGet(TOKEN_KEY) || $('token').value.trim();
    if (!tok) {
      setRunState('error', 'Paste an admin token first.', null);
      $('token').focus();
      return;
    }
    if ($('token').value.trim()) saveToken();
    var body = { scenario: $('scenario').value, n: parseInt($('run-n').value, 10) };
    var k = $('run-k').value.trim();
    if (!(body.n >= 1 && body.n <= 500)) {
      setRunState('error', 'n must be a whole number from 1 to 500.', null);
      return;
    }
    if (k !== '') {
      body.k = parseInt(k, 10);
      if (!(body.k >= 1 && body.k <= body.n)) {
        setRunState('error', 'k must be a whole number from 1 to n, or empty.', null);
        return;
      }
    }
    $('run-start').disabled = true;
    setRunState('queued', 'Starting ' + body.scenario + '…', null);
    fetch('/proof/runs', {
      method: 'POST',
      cache: 'no-store',
      headers: {
        Accept: 'application/json',
        'Content-Type': 'application/json',
        Authorization: 'Bearer ' + tok,
        'Idempotency-Key': uuid()
      },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return null; }).then(function (b) {
        if (!res.ok || !b || !b.run) throw new Error(problemText(res, b));
        followRun(b.run.id, Date.now());
        poll();
      });
    }).catch(function (e) {
      $('run-start').disabled = false;
      setRunState('error', 'The run was not started: ' + e.message, null);
    });
  }

  function saveToken(ev) {
    if (ev) ev.preventDefault();
    var v = $('token').value.trim().replace(/^Bearer\s+/i, '');
    if (v) storageSet(TOKEN_KEY, v);
    state.tokenRefused = false;
    state.checksKey = '';
    state.runsKey = '';
    $('token').value = '';
    $('token').placeholder = storageGet(TOKEN_KEY) ? 'token set (paste another to replace it)' :
      'paste a bearer token (scripts/zerosum token … --admin)';
    showTokenState();
  }

  function forgetToken() {
    storageSet(TOKEN_KEY, null);
    state.tokenRefused = false;
    $('token').value = '';
    $('token').placeholder = 'paste a bearer token (scripts/zerosum token … --admin)';
    showTokenState();
  }

  /* ------------------------------------------------------------ wiring */

  function init() {
    $('bids').addEventListener('click', function (ev) {
      var t = ev.target.closest('[data-lot]');
      if (!t) return;
      state.chartLot = t.getAttribute('data-lot');
      state.bidData = null;
      poll();
    });
    $('chart-follow').addEventListener('click', function () {
      state.chartLot = null;
      state.bidData = null;
      poll();
    });
    $('market-select').addEventListener('change', function () {
      setMarketPin($('market-select').value || null);
      state.marketKey = '';
      poll();
    });
    $('market-follow').addEventListener('click', function () {
      setMarketPin(null);
      state.marketKey = '';
      poll();
    });
    $('token-form').addEventListener('submit', saveToken);
    $('token-forget').addEventListener('click', forgetToken);
    $('run-form').addEventListener('submit', startRun);
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden) poll();
      else setLive('paused', 'paused while hidden');
    });

    if (storageGet(TOKEN_KEY)) {
      $('token').placeholder = 'token set (paste another to replace it)';
    }
    showTokenState();

    var last = storageGet(RUN_KEY);
    if (last) {
      try {
        var r = JSON.parse(last);
        if (r && r.id) {
          $('admin').open = true;
          followRun(r.id, r.started);
        }
      } catch (e) { storageSet(RUN_KEY, null); }
    }

    if (!window.uPlot) {
      $('bid-chart-empty').textContent = 'The chart library is missing (htdocs/vendor/); run scripts/build-dashboard.';
      $('market-chart-empty').textContent = 'The chart library is missing (htdocs/vendor/); run scripts/build-dashboard.';
    }
    if (window.ResizeObserver) {
      var pending = null;
      new ResizeObserver(function () {
        if (pending) return;
        pending = requestAnimationFrame(function () { pending = null; resizeCharts(); });
      }).observe(document.querySelector('main'));
    } else {
      window.addEventListener('resize', resizeCharts);
    }
    poll();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
}());
