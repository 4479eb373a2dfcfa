"""stampede — fire real concurrent requests through nginx at a running zerosum
stack, then prove the outcome by comparing what the clients were told with
what the server shows.

usage: scripts/stampede SCENARIO [--n N] [--k K] [--url URL] [--concurrency C]
                        [--var DIR] [--timeout S] [--seed S] [--expect-accepted N]
                        [--markets M]

Scenarios (each creates its own fresh accounts and lots through the API and
never deletes anything):

  oversell      N buyers (default 200), each funded for exactly one unit, race
                a drop of K units (default 10), one claim each, all fired
                together: exactly K win (201), N-K are refused `sold_out`, the
                seller is credited exactly K x price, the lot shows K claimed
                and status sold_out, every winner's balance is 0 and every
                loser's unchanged, nobody negative.
  double-spend  one buyer funded for exactly one unit races N drop lots
                (default 50; one unit each, distinct sellers) at once: exactly
                one win, the others `insufficient_funds`, the buyer's balance
                0 (never negative), exactly one lot sold one unit.
  bid-war       N bidders (default 300) bid the distinct amounts start + i x
                increment, in shuffled order, on one English lot (ends in an
                hour, no anti-snipe): the final high is the largest accepted
                amount and its bidder, only the leader holds funds (held ==
                high), every other hold is released, the accepted amounts
                strictly increase with their seq numbers (from the 201
                answers, and the 20 recent_bids agree), rejections are
                `bid_too_low` with a minimum above the amount offered.
  proxy-war     N bidders (default 100) with random hidden maxima (one tie at
                the top when N >= 3), each funded exactly its maximum, send
                one proxy bid each {lot, max_amount}, shuffled, all together,
                on one English lot with an increment table: from the maxima
                the server recorded (answered 201 or outbid_by_proxy; a
                bid_too_low was below the minimum at its turn) the leader
                holds the highest (the earliest of a tie: its answer was the
                201, the other's outbid_by_proxy), the high is exactly the
                second-highest plus the step at it capped at the highest, only
                the leader holds anything (its maximum), nobody paid, the lot's
                seq counts one row per 201 and two per outbid_by_proxy.
  phantom-shares
                a shares market whose owner holds 2N shares (N default 100)
                rests N sells of ONE share each at one price; N buyers, each
                funded for exactly one share, send an IOC buy of one share at
                that price, all together: exactly N fills, each against a
                different resting sell (no phantom shares), the book empty,
                the market's positions still summing to the supply (audit
                delta 0), every buyer holding exactly 1 share and the seller
                2N - N (probed through the API: an IOC sell of what the fills
                say is accepted, one more is `insufficient_position`), cash
                moved exactly; `retries` is the order endpoint's (0 expected
                on the postgres dialect: the market lock queues takers).
  event-market  --markets M (default 3) event markets; N orders (default
                216) — GTC YES buys at 35..70 and NO buys at 30..65, 1-4
                contracts, from N/6 accounts each funded exactly for its
                orders — spread across them and fired together; then the
                markets are resolved through the API, YES / NO / cancel in
                turn: every order accepted, every fill a mint against an
                answered complementary order, outstanding YES = NO = pairs
                and escrow = 100 x pairs before resolution, escrow 0 after,
                each account's balance = funded - what its fills paid + 100
                per winning contract (50 per contract on cancel), matching its
                payout/refund and mint entries, cash conserved, nobody
                negative, every hold released.

  fok-storm     a shares market with a thin book: N/4 asks (N default 100)
                of 1-3 shares at 10..15; N buyers, each funded exactly for
                its order, send fill-or-kill buys of 1-4 shares at 10..15,
                all together: every answer is 201 filled completely (fills at
                the asks' prices, none above its limit) or 409 order_killed
                with fillable below its quantity; no ask filled beyond its
                size, the book left = resting - filled, supply conserved,
                every buyer's balance = funded - its fills (a killed order
                moved nothing), the seller paid exactly the fills.
  pending-storm N payers (default 50), each funded 1000 and paired with an
                empty payee, each hold a pending transfer of a random amount
                (100..1000), all fired together; then, all together, half are
                posted (whole, or a random part) or voided long before their
                deadline, a sixth are posted or voided just as their 1 s
                deadline passes (racing the jobs child's expiry), and a third
                are left for the jobs child to expire. Every transfer ends
                exactly once (posted, voided or expired); every post/void
                answer agrees with how it ended (200 for the one that closed
                it, else 409 with the code of what did); a posting moved
                exactly its posted amount from payer to payee; every payer
                ends at 1000 - posted and every payee at posted; held = 0 on
                every account of the run; their balances sum to N x 1000 and
                /proof's money_conserved observes 0 (Σ balances = 0).
  split-merge   one event market, max(2, N/4) accounts (N default 100) funded
                2000 that each split 3 pairs first; then N random requests
                at once: splits and merges of 1-3 pairs and YES/NO orders
                (buys that mint or take, sells of 1-2 contracts). Every
                answer is accepted or refused for funds, pairs or contracts
                only; each split/merge answer moves 100 x its quantity;
                outstanding YES = NO = setup + split - merged + minted and
                escrow = 100 x that; reads of /proof (event_pairs_backed)
                and the market during the burst never see YES != NO or
                escrow != 100 x pairs; cash conserved, nobody negative.

Every scenario also: counts 5xx and transport failures as errors (must be
0); checks that the 201 answers' seq numbers are exactly 1..accepted and that
the lot's seq equals the number of 201s (a bid the server recorded but the
client saw refused, or the reverse, shows here); looks up every transfer a
201 names (GET /transfers/{id}); re-sends a few answered requests with their
original Idempotency-Key before reading the server's state, so a replay that
bought twice would fail the run; and asks GET /proof (404 = not available;
otherwise it must answer 200 with "consistent": true).

The stack is found through $ZS_VAR/stack.env (ZS_VAR or --var, default the
repository's var/) unless --url is given; the admin and user tokens are
signed with the key ring $ZS_VAR/secrets/jwt.key, exactly as `zerosum token`
mints them (zerosum_py.tokens).

Output: progress on stderr; the LAST stdout line is a JSON summary
  {"scenario", "n", "k"?, "accepted", "rejected", "errors", "duration_ms",
   "retries", "client_retries", "max_in_flight", ...scenario figures...,
   "proof", "checks": {name: bool}, "failures": [...], "ok"}
where duration_ms is the wall time of the concurrent burst (from the moment
every connected thread is released to the last answer), retries the
delta of zerosum_tx_retries_total{endpoint="bid"} on /metrics over the burst
(endpoint="order" for the market scenarios; null if not parseable; other
traffic on the same stack counts too), and
client_retries how often a client re-sent after 429 or 409
idempotency_key_in_flight (same key). Exit status 0 exactly when ok.

Negative controls: --expect-accepted N replaces the number of 201s the rule
demands (oversell: min(N, K); double-spend: 1; bid-war, proxy-war: any number >= 1;
phantom-shares: N; event-market: N); a
wrong value must fail the run with exit status 1, which shows the checker
can fail. --record FILE writes the answers and observations the checks ran
on; the verify_* functions are pure (record in, checks out), so a test can
import them (zerosum_py.stampede), re-verify a real record, doctor it (a refused
claim turned into a 201, one unit too many on the lot, a hold left on a
loser, ...) and see the named check fail. tests/integration/test_stampede.py
does both.
"""

import argparse
import json
import random
import sys
import time

from . import auctions, bank, markets, orders, pairs, pending, proxy
from . import harness as h

SCENARIOS = ("oversell", "double-spend", "bid-war", "proxy-war", "phantom-shares", "event-market", "bank",
             "fok-storm", "pending-storm", "split-merge")
RUN = {"oversell": auctions.run_oversell, "double-spend": auctions.run_double_spend,
       "bid-war": auctions.run_bid_war, "proxy-war": proxy.run_proxy_war, "phantom-shares": markets.run_phantom_shares,
       "event-market": markets.run_event_market, "bank": bank.run_bank, "fok-storm": orders.run_fok_storm,
       "pending-storm": pending.run_pending_storm, "split-merge": pairs.run_split_merge}
DEFAULT_N = {"oversell": 200, "double-spend": 50, "bid-war": 300, "proxy-war": 100, "phantom-shares": 100,
             "event-market": 216, "bank": 10, "fok-storm": 100, "pending-storm": 50, "split-merge": 100}


def parse_args(argv):
    p = argparse.ArgumentParser(prog="stampede", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("scenario", choices=SCENARIOS)
    p.add_argument("--n", type=int, help="buyers / lots / bidders (default 200 / 50 / 300)")
    p.add_argument("--k", type=int, default=10, help="oversell: units in the drop (default 10)")
    p.add_argument("--markets", type=int, default=3, help="event-market: event markets (default 3)")
    p.add_argument("--url", help="base URL of nginx (default BASE_URL from $ZS_VAR/stack.env)")
    p.add_argument("--concurrency", type=int,
                   help=f"threads firing at once (default max(50, min(N, {h.MAX_CONCURRENCY})))")
    p.add_argument("--var", help="the stack's runtime dir (default $ZS_VAR, else the repo's var/)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default 30)")
    p.add_argument("--seed", type=int, help="seed the shuffle of the send order")
    p.add_argument("--expect-accepted", type=int, dest="expect_accepted",
                   help="negative control: demand this many 201s instead of the rule's number")
    p.add_argument("--record", metavar="FILE",
                   help="write the answers and observations the checks ran on (JSON) to FILE")
    bank.add_bank_arguments(p)
    a = p.parse_args(argv)
    a.n = DEFAULT_N[a.scenario] if a.n is None else a.n
    if a.n < 1 or a.n > 5000:
        p.error("--n must be from 1 to 5000")
    if a.k < 1 or a.k > 100000:
        p.error("--k must be from 1 to 100000")
    if a.markets < 1 or a.markets > 100:
        p.error("--markets must be from 1 to 100")
    if a.concurrency is None:
        a.concurrency = max(50, min(a.n, h.MAX_CONCURRENCY))
    if a.concurrency < 1 or a.concurrency > 1000:
        p.error("--concurrency must be from 1 to 1000")
    if a.timeout <= 0 or a.timeout > 600:
        p.error("--timeout must be from 0 to 600 seconds")
    bank.check_bank_arguments(p, a)
    return a


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.seed is not None:
        random.seed(args.seed)
    summary = {"scenario": args.scenario, "n": args.n}
    if args.scenario == "oversell":
        summary["k"] = args.k
    summary.update({"accepted": 0, "rejected": 0, "errors": 0, "duration_ms": None, "retries": None})
    t0 = time.monotonic()
    try:
        stack = h.Stack(args)
        h.log(f"stack at {stack.url}")
        head, figures, proof, c, rec = RUN[args.scenario](stack, args)
        if args.record:
            with open(args.record, "w") as f:
                json.dump({"scenario": args.scenario, "record": rec}, f)
            h.log(f"record written to {args.record}")
        summary.update(head)
        summary.update({"duration_ms": figures["duration_ms"], "retries": figures["retries"],
                        "client_retries": figures["client_retries"],
                        "max_in_flight": figures["max_in_flight"],
                        "unresolved": figures["unknown"], "proof": proof,
                        "checks": c.results, "failures": c.failures[:20], "ok": c.ok})
    except h.SetupError as e:
        h.log(f"setup failed: {e}")
        summary.update({"checks": {}, "failures": [f"setup: {e}"], "ok": False})
    except Exception as e:  # noqa: BLE001 — a crash must still end in a failing summary line
        import traceback
        traceback.print_exc(file=sys.stderr)
        summary.update({"checks": {}, "failures": [f"stampede crashed: {type(e).__name__}: {e}"], "ok": False})
    summary["total_ms"] = int((time.monotonic() - t0) * 1000)
    for f in summary.get("failures", []):
        h.log(f"FAIL {f}")
    h.log("ok" if summary["ok"] else "FAILED")
    print(json.dumps(summary), flush=True)
    return 0 if summary["ok"] else 1
