// oracle.mjs — live oracle for `zerosum dsql-token`: signs random cases with
// the AWS JavaScript SDK's @aws-sdk/dsql-signer (its clock frozen) and with
// the zerosum binary, and checks that both give the same signature and the
// same parsed parameter set. Output is TAP on stdout; exit status 1 on any
// mismatch.
//
// Environment:
//   ZS_BIN        zerosum binary (default build/zerosum)
//   ORACLE_SEED   PRNG seed, to replay a run (default 20250102)
//   ORACLE_CASES  number of random cases (default 240, at least 200 advised)
//
// DsqlSigner.getDbConnectAuthToken() takes no signing date: it calls
// SignatureV4.presign() without `signingDate`, which then defaults to
// `new Date()`. So the clock is frozen by swapping globalThis.Date for a
// subclass whose no-argument constructor and now() return the case's time,
// for the duration of one signing call; each case checks that the SDK's
// X-Amz-Date is the intended one, so a broken freeze cannot pass silently.

import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DsqlSigner } from "@aws-sdk/dsql-signer";

const here = path.dirname(fileURLToPath(import.meta.url));
const ZS_BIN = process.env.ZS_BIN || path.resolve(here, "../../build/zerosum");
const SEED = Number(process.env.ORACLE_SEED || 20250102) >>> 0;
const NCASES = Number(process.env.ORACLE_CASES || 240);

const REGIONS = [
  "us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-west-2", "eu-central-1",
  "ap-northeast-1", "ap-southeast-2", "ap-south-1", "ca-central-1",
];
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// Session tokens: base64 plus every other printable, non-space ASCII byte
// that RFC 3986 reserves or that needs escaping, so encoding is exercised.
const TOKEN_CHARS = BASE64 + "=/+!*'()&?#%@:;,$[]~-._\"<>\\^`{|}";
const MIN_TIME = Date.UTC(1971, 0, 1) / 1000;
const MAX_TIME = Date.UTC(2099, 11, 31, 23, 59, 59) / 1000;

// mulberry32: small, seedable, good enough to pick test cases.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1)); // inclusive
const pick = (xs) => xs[int(0, xs.length - 1)];
const str = (alphabet, n) => Array.from({ length: n }, () => pick(alphabet)).join("");

// "YYYY-MM-DDTHH:MM:SSZ" for seconds since the epoch.
const iso = (secs) => new Date(secs * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");

// Sign with the SDK, Date frozen at secs. Returns the token.
async function sdkToken(c) {
  const RealDate = globalThis.Date;
  const frozen = c.at * 1000;
  class FrozenDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(frozen);
      else super(...args);
    }
    static now() {
      return frozen;
    }
  }
  globalThis.Date = FrozenDate;
  try {
    const signer = new DsqlSigner({
      hostname: c.host,
      region: c.region,
      expiresIn: c.expires,
      credentials: {
        accessKeyId: c.akid,
        secretAccessKey: c.secret,
        ...(c.session ? { sessionToken: c.session } : {}),
      },
    });
    return c.admin ? await signer.getDbConnectAdminAuthToken() : await signer.getDbConnectAuthToken();
  } finally {
    globalThis.Date = RealDate;
  }
}

// Sign with zerosum; credentials go through the child's environment only.
function zsToken(c) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("AWS_")) env[k] = v;
  env.AWS_ACCESS_KEY_ID = c.akid;
  env.AWS_SECRET_ACCESS_KEY = c.secret;
  if (c.session) env.AWS_SESSION_TOKEN = c.session;
  const args = ["dsql-token", "--endpoint", c.host, "--region", c.region,
    "--expires", String(c.expires), "--at", iso(c.at)];
  if (c.admin) args.push("--admin");
  const r = spawnSync(ZS_BIN, args, { env, encoding: "utf8" });
  if (r.error) return { error: `spawn ${ZS_BIN}: ${r.error.message}` };
  if (r.status !== 0) return { error: `exit ${r.status}: ${r.stderr.trim()}` };
  return { token: r.stdout.replace(/\n$/, "") };
}

// Split a token into its host and a Map of decoded parameters. The host is
// taken up to '?', without a trailing '/', as SDKs write `host/?` or `host?`.
function parseToken(token) {
  const q = token.indexOf("?");
  if (q < 0) throw new Error("no '?' in token");
  const host = token.slice(0, q).replace(/\/$/, "");
  const params = new Map();
  for (const part of token.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new Error(`parameter without '=': ${part}`);
    const name = decodeURIComponent(part.slice(0, eq));
    if (params.has(name)) throw new Error(`duplicate parameter ${name}`);
    params.set(name, decodeURIComponent(part.slice(eq + 1)));
  }
  return { host, params };
}

// Differences between two parsed tokens, as human-readable lines.
function compare(sdk, zs) {
  const diffs = [];
  if (sdk.host !== zs.host) diffs.push(`host: sdk ${sdk.host} zerosum ${zs.host}`);
  for (const name of new Set([...sdk.params.keys(), ...zs.params.keys()])) {
    const a = sdk.params.get(name), b = zs.params.get(name);
    if (a !== b) diffs.push(`${name}: sdk ${JSON.stringify(a)} zerosum ${JSON.stringify(b)}`);
  }
  return diffs;
}

// The SDK reference cases first (fixed credentials and time), so the oracle itself is checked too.
function referenceCases() {
  const base = {
    host: "abcdefghijklmnopqrstuvwxyz.dsql.us-east-1.on.aws", region: "us-east-1",
    akid: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    at: Date.UTC(2025, 0, 2, 3, 4, 5) / 1000, expires: 900,
  };
  const s = "SESSIONTOKEN/with+chars=";
  return [
    { ...base, admin: false, session: null, want: "cac39927094dc5e01619fefe34cea863c68ac817a10f39ce32c23ef57ef0e55b" },
    { ...base, admin: true, session: null, want: "9ea0011bbd175e34a41500b8d7c9a593a34e9d73577f04e749f40c0a1fd32ad1" },
    { ...base, admin: false, session: s, want: "0e707ffa88ef602aaa56f8e1dbf2689d748d89b0121611319643375f975b6f98" },
    { ...base, admin: true, session: s, want: "e49250f5c32e8fd611cbde8ee8e72bb721decbb935b3b737ded6c8d8125bf68d" },
  ];
}

function randomCase(i) {
  const region = pick(REGIONS);
  const expiresKind = int(0, 9);
  const expires = expiresKind === 0 ? 1 : expiresKind === 1 ? 604800 : expiresKind === 2 ? 900
    : int(1, 604800);
  const sessionKind = int(0, 3); // 0: none; else a token of varied length
  return {
    host: `${str(LOWER, 26)}.dsql.${region}.on.aws`,
    region,
    admin: rand() < 0.5,
    expires,
    at: i % 50 === 0 ? MIN_TIME + i : int(MIN_TIME, MAX_TIME),
    akid: pick(["AKIA", "ASIA"]) + str(UPPER_DIGITS, 16),
    secret: str(BASE64, 40),
    session: sessionKind === 0 ? null
      : sessionKind === 1 ? str(TOKEN_CHARS, int(1, 40))
      : str(TOKEN_CHARS, int(100, 1200)),
  };
}

async function main() {
  try {
    accessSync(ZS_BIN, constants.X_OK);
  } catch {
    console.log(`Bail out! ZS_BIN ${ZS_BIN} is not an executable file (build it or set ZS_BIN)`);
    process.exit(1);
  }
  console.log(`# zerosum ${ZS_BIN} vs @aws-sdk/dsql-signer, seed ${SEED}`);
  const cases = [...referenceCases()];
  for (let i = 0; i < NCASES; i++) cases.push(randomCase(i));

  let n = 0, failed = 0;
  for (const c of cases) {
    n++;
    const label = `case ${n}: ${c.region} ${c.admin ? "DbConnectAdmin" : "DbConnect"} ` +
      `at ${iso(c.at)} expires ${c.expires} ` +
      (c.session ? `session token ${c.session.length} chars` : "no session token") +
      (c.want ? " (SDK reference)" : "");
    const diffs = [];
    try {
      const sdk = parseToken(await sdkToken(c));
      if (sdk.params.get("X-Amz-Date") !== iso(c.at).replace(/[-:]/g, ""))
        diffs.push(`SDK clock not frozen: X-Amz-Date ${sdk.params.get("X-Amz-Date")}`);
      if (c.want && sdk.params.get("X-Amz-Signature") !== c.want)
        diffs.push(`SDK disagrees with the reference: ${sdk.params.get("X-Amz-Signature")}`);
      const zs = zsToken(c);
      if (zs.error) diffs.push(`zerosum failed: ${zs.error}`);
      else diffs.push(...compare(sdk, parseToken(zs.token)));
    } catch (e) {
      diffs.push(`error: ${e.message}`);
    }
    if (diffs.length === 0) {
      console.log(`ok ${n} - ${label}`);
    } else {
      failed++;
      console.log(`not ok ${n} - ${label}`);
      for (const d of diffs) console.log(`#   ${d}`);
      console.log(`#   replay: ORACLE_SEED=${SEED} (host ${c.host})`);
    }
  }
  console.log(`# compared ${n} cases`);
  console.log(`# mismatched ${failed}`);
  console.log(`1..${n}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.log(`Bail out! ${e.stack || e}`);
  process.exit(1);
});
