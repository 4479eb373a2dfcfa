// dashboard.test.mjs — the proof dashboard in real headless Chromium.
//
// Drives Debian's /usr/bin/chromium with playwright-core against a running
// stack and prints TAP. Needs BASE_URL and ZS_VAR (tests/browser/run.sh
// sources $ZS_VAR/stack.env); ZS_BIN names the binary that mints tokens
// (default build/zerosum); PGPORT / ZS_PG_PORT the PostgreSQL socket port.
//
// It seeds a little data through the API, tampers the database directly as
// the postgres superuser (and repairs it, whatever happens), starts an
// oversell stampede from the admin form, and saves screenshots under
// $ZS_VAR/screenshots/ plus docs/dashboard.png for the README.
import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
const ZS_VAR = process.env.ZS_VAR || '';
const ZS_BIN = process.env.ZS_BIN || join(REPO, 'build/zerosum');
const PGPORT = process.env.ZS_PG_PORT || process.env.PGPORT || '5433';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(ZS_VAR, 'screenshots');
const ADMIN_SUB = '00000000-0000-0000-0000-000000000000';
const ISSUER_ID = '00000000-0000-0000-0000-000000000001';
const RUN_TIMEOUT_MS = Number(process.env.ZS_RUN_TIMEOUT_MS || 90000);
const UI_TIMEOUT_MS = 15000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// ------------------------------------------------------------------ TAP

let n = 0;
let failed = 0;
function diag(msg) {
  for (const line of String(msg).split('\n')) console.log('# ' + line);
}
async function test(name, fn) {
  n += 1;
  const t0 = Date.now();
  try {
    await fn();
    console.log(`ok ${n} - ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed += 1;
    console.log(`not ok ${n} - ${name}`);
    diag((e && e.stack) || String(e));
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
function bail(msg) {
  console.log('Bail out! ' + msg);
  process.exit(1);
}

// ------------------------------------------------------------------ helpers

function psql(sql) {
  return execFileSync('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', join(ZS_VAR, 'pgsock'),
    '-p', PGPORT, '-U', 'postgres', '-d', 'zerosum', '-c', sql], { encoding: 'utf8' }).trim();
}

function mintToken(sub, admin) {
  const args = ['token', sub, '--key-file', join(ZS_VAR, 'secrets/jwt.key')];
  if (admin) args.splice(2, 0, '--admin');
  return execFileSync(ZS_BIN, args, { encoding: 'utf8' }).trim();
}

async function api(method, path, token, body) {
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Idempotency-Key'] = randomUUID();
  }
  const res = await fetch(BASE_URL + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body)
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

async function must(method, path, token, body) {
  const r = await api(method, path, token, body);
  assert(r.status >= 200 && r.status < 300, `${method} ${path}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  return r.json;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, timeout = UI_TIMEOUT_MS) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what} (last: ${last})`);
    await sleep(200);
  }
}

// Console errors and uncaught exceptions, per page, with what was going on.
function watch(page, sink, phase) {
  page.on('console', (m) => {
    if (m.type() === 'error') sink.push({ phase: phase(), text: m.text(), url: (m.location() || {}).url || '' });
  });
  page.on('pageerror', (e) => sink.push({ phase: phase(), text: 'pageerror: ' + (e && e.message), url: '' }));
}

// While the ledger is (deliberately) inconsistent, GET /proof answers 409 by
// design and Chromium logs every non-2xx fetch as a network console error.
function isExpected409(e) {
  return e.phase === 'tampered' && /status of 409/.test(e.text) && /\/proof(\?|$)/.test(e.url);
}

// A full-page screenshot from the top: the top bar is sticky, and a page
// scrolled elsewhere would show it stuck in the middle of the picture.
async function shoot(page, path) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(100);
  await page.screenshot({ path, fullPage: true });
}

async function badgeState(page) {
  return page.getAttribute('#badge', 'data-state');
}

// ------------------------------------------------------------------ main

if (!BASE_URL || !ZS_VAR) bail('BASE_URL and ZS_VAR must be set (source $ZS_VAR/stack.env)');
if (!existsSync(CHROMIUM)) bail(`${CHROMIUM} not found: apt-get install -y chromium`);
if (!existsSync(join(REPO, 'htdocs/vendor/uPlot.iife.min.js'))) bail('htdocs/vendor/ is empty: run scripts/build-dashboard');
mkdirSync(SHOTS, { recursive: true });

console.log('TAP version 13');

let proof0;
try {
  const r = await api('GET', '/proof');
  proof0 = r.json;
  if (r.status !== 200 || !proof0 || proof0.consistent !== true) {
    bail(`GET /proof must answer 200 consistent before the browser tests; got ${r.status}: ${r.text.slice(0, 400)}`);
  }
} catch (e) {
  bail(`no answer from ${BASE_URL}/proof: ${e.message}`);
}

const adminToken = mintToken(ADMIN_SUB, true);

// A little data for the feeds and the bid chart: a seller, two bidders, one
// English lot and a handful of rising bids.
const seed = {};
{
  const issuer = ISSUER_ID;
  const mk = async (name, fund) => {
    const a = (await must('POST', '/accounts', adminToken, { name })).account;
    if (fund) await must('POST', '/transfer', adminToken, { from: issuer, to: a.id, amount: fund });
    return { id: a.id, token: mintToken(a.id, false) };
  };
  seed.seller = await mk('dash-seller', 0);
  seed.alice = await mk('dash-alice', 50000);
  seed.bob = await mk('dash-bob', 50000);
  seed.lot = (await must('POST', '/lots', adminToken, {
    kind: 'english', seller: seed.seller.id, title: 'dashboard test lot', start: 100, increment: 10, ends_in: 3600
  })).lot;
  let amount = 100;
  for (let i = 0; i < 12; i++) {
    const who = i % 2 ? seed.bob : seed.alice;
    await must('POST', '/bid', who.token, { lot: seed.lot.id, amount });
    amount += 10 + ((i * 37) % 90);
  }
}

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
const errors = [];
let phase = 'load';
const phaseOf = () => phase;

try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1, colorScheme: 'light' });
  const page = await ctx.newPage();
  watch(page, errors, phaseOf);

  await test('the dashboard loads without console errors and shows the consistent badge', async () => {
    const res = await page.goto(BASE_URL + '/', { waitUntil: 'load' });
    assert(res && res.status() === 200, `GET / answered ${res && res.status()}`);
    await waitFor('the badge to say consistent', async () => (await badgeState(page)) === 'consistent');
    const text = (await page.textContent('#badge-text')).trim().toLowerCase();
    assert(text === 'consistent', `badge text is "${text}"`);
    await page.waitForTimeout(2500); // one more poll cycle
    const errs = errors.filter((e) => e.phase === 'load');
    assert(errs.length === 0, 'console errors: ' + JSON.stringify(errs));
    const hasUplot = await page.evaluate(() => !!window.uPlot);
    assert(hasUplot, 'the chart library (vendor/uPlot.iife.min.js) did not load');
  });

  await test('every check of GET /proof is shown with observed and expected; constraints are marked', async () => {
    const proof = (await api('GET', '/proof')).json;
    for (const c of proof.checks) {
      const li = page.locator(`#checks li[data-check="${c.name}"]`);
      assert((await li.count()) === 1, `check ${c.name} is not on the page`);
      assert((await li.getAttribute('data-ok')) === 'true', `check ${c.name} is not shown as holding`);
      const observed = (await li.locator('.value-observed dd').textContent()).trim();
      const expected = (await li.locator('.value-expected dd').textContent()).trim();
      assert(observed === String(c.observed) && expected === String(c.expected),
        `${c.name}: page shows ${observed}/${expected}, /proof says ${c.observed}/${c.expected}`);
      const tag = (await li.locator('.tag').first().textContent()).trim();
      if (c.kind === 'constraint') assert(tag === 'constraint (not evidence)', `${c.name}: tag "${tag}"`);
      else assert(tag === 'evidence', `${c.name}: tag "${tag}"`);
      const desc = (await li.locator('.check-desc').textContent()).trim();
      assert(desc === c.description, `${c.name}: description "${desc}"`);
    }
    const shown = await page.locator('#checks li').count();
    assert(shown === proof.checks.length, `${shown} checks on the page, ${proof.checks.length} in /proof`);
    for (const k of Object.keys(proof.counts)) {
      const v = (await page.textContent(`[data-count="${k}"]`)).replace(/,/g, '');
      assert(/^\d+$/.test(v), `counter ${k} shows "${v}"`);
    }
    const backend = await page.textContent('#backend');
    assert(backend.includes(proof.backend.engine), `backend shows "${backend}"`);
  });

  await test('the live feeds, the bid chart and the retries histogram show the seeded activity', async () => {
    const short = seed.lot.id.slice(0, 8);
    await waitFor('the seeded lot in the bid feed', async () =>
      (await page.locator(`#bids button[data-lot="${seed.lot.id}"]`).count()) > 0);
    await waitFor('the bid chart of the seeded lot', async () =>
      (await page.textContent('#chart-lot')).includes(short) && (await page.locator('#bid-chart canvas').count()) > 0);
    const label = await page.textContent('#chart-lot');
    assert(/12 accepted bids/.test(label), `chart label "${label}"`);
    assert((await page.locator('#transfers tbody tr').count()) > 0, 'no transfers in the feed');
    assert((await page.locator('#retry-chart canvas').count()) > 0, 'no retries histogram');
    const note = await page.textContent('#retries-note');
    assert(/commits/.test(note), `retries note "${note}"`);
    assert((await page.locator('#endpoints tbody tr').count()) > 0, 'no endpoint rows from /metrics');
    await shoot(page, join(SHOTS, 'desktop-consistent.png'));
  });

  // Tamper: one user account's held no longer equals its active holds.
  // balance > held keeps the CHECK (held <= balance) satisfied, so only the
  // evidence check holds_match_held can notice.
  const victim = psql("SELECT id FROM accounts WHERE kind = 'user' AND balance > held ORDER BY created_at LIMIT 1");
  let tampered = false;
  try {
    await test('after a tamper the failing check is shown in red and the badge says inconsistent', async () => {
      assert(/^[0-9a-f-]{36}$/.test(victim), `no user account with balance > held to tamper (got "${victim}")`);
      phase = 'tampered';
      psql(`UPDATE accounts SET held = held + 1 WHERE id = '${victim}'`);
      tampered = true;
      const r = await api('GET', '/proof');
      assert(r.status === 409, `/proof answered ${r.status} after the tamper`);
      const failing = r.json.checks.filter((c) => !c.ok).map((c) => c.name);
      assert(failing.length === 1 && failing[0] === 'holds_match_held', `/proof fails ${failing.join(', ')}`);

      await waitFor('the badge to say inconsistent', async () => (await badgeState(page)) === 'inconsistent');
      const li = page.locator('#checks li[data-check="holds_match_held"]');
      await waitFor('holds_match_held to be marked failing', async () => (await li.getAttribute('data-ok')) === 'false');
      assert(await li.evaluate((e) => e.classList.contains('check-fail')), 'not styled as failing');
      // Red, as a person sees it: the row's background and the name's colour.
      const colors = await li.evaluate((e) => ({
        bg: getComputedStyle(e).backgroundColor,
        name: getComputedStyle(e.querySelector('.check-name')).color,
        status: getComputedStyle(e.querySelector('.check-status')).backgroundColor
      }));
      const reddish = (c) => {
        const m = /rgba?\((\d+), (\d+), (\d+)/.exec(c);
        return m && Number(m[1]) > 150 && Number(m[1]) > Number(m[2]) + 60 && Number(m[1]) > Number(m[3]) + 60;
      };
      assert(reddish(colors.name) && reddish(colors.status), 'failing check is not red: ' + JSON.stringify(colors));
      const desc = await li.locator('.check-desc').textContent();
      const served = await (await fetch(BASE_URL + '/proof')).json();
      const want = served.checks.find((c) => c.name === 'holds_match_held').description;
      assert(desc.includes(want), `description "${desc}" is not the served "${want}"`);
      const sample = await li.locator('.check-sample').textContent();
      assert(sample.includes(victim), `sample ids "${sample}" do not name ${victim}`);
      const observed = (await li.locator('.value-observed dd').textContent()).trim();
      assert(observed === '1', `observed "${observed}"`);
      assert(await page.locator('#checks li').first().getAttribute('data-check') === 'holds_match_held',
        'the failing check is not listed first');
      const badgeSub = await page.textContent('#badge-sub');
      assert(badgeSub.includes('holds_match_held'), `badge subtitle "${badgeSub}"`);
      const others = await page.locator('#checks li[data-ok="false"]').count();
      assert(others === 1, `${others} checks shown failing`);
      await shoot(page, join(SHOTS, 'desktop-inconsistent.png'));
    });
  } finally {
    if (tampered) {
      psql(`UPDATE accounts SET held = held - 1 WHERE id = '${victim}'`);
    }
  }

  await test('after the repair the page is back to consistent', async () => {
    assert(tampered, 'the tamper did not happen');
    const r = await api('GET', '/proof');
    assert(r.status === 200 && r.json.consistent === true, `/proof answered ${r.status} after the repair`);
    await waitFor('the badge to say consistent again', async () => (await badgeState(page)) === 'consistent');
    await waitFor('every check to hold on the page', async () =>
      (await page.locator('#checks li[data-ok="false"]').count()) === 0);
    phase = 'repaired';
    await page.waitForTimeout(2500);
  });

  await test('an admin pastes a token, starts an oversell stampede (n=20, k=5) and sees its verdict', async () => {
    phase = 'admin';
    await page.click('#admin > summary');
    await page.fill('#token', adminToken);
    await page.click('#token-save');
    const st = await page.textContent('#token-state');
    assert(/scope admin/.test(st), `token state "${st}"`);
    const stored = await page.evaluate(() => sessionStorage.getItem('zerosum.adminToken'));
    assert(stored === adminToken, 'the token is not in sessionStorage');
    const local = await page.evaluate(() => Object.keys(localStorage).length);
    assert(local === 0, 'something was written to localStorage');
    await page.selectOption('#scenario', 'oversell');
    await page.fill('#run-n', '20');
    await page.fill('#run-k', '5');
    const t0 = Date.now();
    const [post] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/proof/runs') && r.request().method() === 'POST'),
      page.click('#run-start')
    ]);
    assert(post.status() === 202, `POST /proof/runs answered ${post.status()}: ${await post.text()}`);
    const hdrs = post.request().headers();
    assert(/^[0-9a-f-]{36}$/.test(hdrs['idempotency-key'] || ''), 'no random Idempotency-Key on the POST');
    const runId = (await post.json()).run.id;
    const seen = new Set();
    const verdict = await waitFor('the run verdict', async () => {
      const s = await page.getAttribute('#run-progress', 'data-state');
      seen.add(s);
      return s === 'passed' || s === 'failed' ? s : null;
    }, RUN_TIMEOUT_MS);
    const message = await page.textContent('#run-message');
    diag(`run ${runId}: ${verdict} after ${((Date.now() - t0) / 1000).toFixed(1)} s; states seen: ${[...seen].join(' → ')}`);
    await page.locator('.admin').screenshot({ path: join(SHOTS, 'desktop-stampede.png') });
    const summary = await page.textContent('#run-summary');
    assert(verdict === 'passed', `verdict ${verdict}: ${message}\n${summary}`);
    assert(/PASSED/.test(message), `verdict message "${message}"`);
    await waitFor('the run in the stampede runs table', async () => {
      const row = page.locator(`#runs tr[data-run="${runId}"]`);
      return (await row.count()) === 1 && /passed/.test(await row.textContent());
    });
    // The README's picture: the whole page, the verdict of the run included.
    await shoot(page, join(REPO, 'docs/dashboard.png'));
  });

  await test('a phone-sized viewport (390×844) renders without horizontal overflow', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'light'
    });
    const p = await phone.newPage();
    let phonePhase = 'phone';
    watch(p, errors, () => phonePhase);
    await p.goto(BASE_URL + '/', { waitUntil: 'load' });
    await waitFor('the phone badge', async () => (await badgeState(p)) === 'consistent');
    await waitFor('the phone bid chart', async () => (await p.locator('#bid-chart canvas').count()) > 0);
    await p.waitForTimeout(500);
    const m = await p.evaluate(() => ({
      sw: document.scrollingElement.scrollWidth,
      cw: document.scrollingElement.clientWidth,
      vw: window.innerWidth,
      wide: Array.from(document.querySelectorAll('body *'))
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-scroll'))
        .slice(0, 5).map((e) => e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className)
    }));
    await shoot(p, join(SHOTS, 'phone.png'));
    assert(m.sw <= 390, `scrollWidth ${m.sw} > 390 (viewport ${m.vw}); too wide: ${m.wide.join(', ')}`);
    const fontSize = await p.evaluate(() => parseFloat(getComputedStyle(document.querySelector('.check-desc')).fontSize));
    assert(fontSize >= 12, `check descriptions are ${fontSize}px on a phone`);
    phonePhase = 'phone-done';
    await phone.close();
  });

  await test('no console errors or page errors during the whole session', async () => {
    const unexpected = errors.filter((e) => !isExpected409(e));
    const expected = errors.length - unexpected.length;
    if (expected) diag(`${expected} network log line(s) for the documented 409 of /proof while tampered (ignored)`);
    assert(unexpected.length === 0, 'console errors: ' + JSON.stringify(unexpected, null, 1));
  });
} finally {
  await browser.close();
}

console.log(`1..${n}`);
console.log(`# ${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
