"""scripts/stampede's scenarios: real concurrent requests at a running stack,
then proof of the outcome from what the clients were told and what the server
shows (usage: zerosum_py.stampede.cli).

  harness   the stack a run talks to, the burst, the records
  checks    Checks and the checks the verifiers share
  auctions  oversell, double-spend, bid-war
  proxy     proxy-war
  markets   phantom-shares, event-market
  orders    fok-storm
  pairs     split-merge (splits, merges and trades on one event market)
  bank      Jepsen's bank workload
  pending   pending-storm (two-phase transfers posted, voided and expired)
  cli       arguments, the summary line, exit status

The verifiers are pure (record in, (figures, Checks) out) and importable from
here, so a test can re-verify a record --record wrote, or a doctored copy."""
from .auctions import verify_bid_war, verify_double_spend, verify_oversell
from .bank import verify_bank
from .checks import Checks
from .markets import verify_event_market, verify_phantom_shares
from .orders import verify_fok_storm
from .pairs import verify_split_merge
from .pending import verify_pending_storm
from .proxy import verify_proxy_war

VERIFY = {"oversell": verify_oversell, "double-spend": verify_double_spend, "bid-war": verify_bid_war,
          "proxy-war": verify_proxy_war,
          "phantom-shares": verify_phantom_shares, "event-market": verify_event_market, "bank": verify_bank,
          "fok-storm": verify_fok_storm, "pending-storm": verify_pending_storm, "split-merge": verify_split_merge}

__all__ = ["Checks", "VERIFY", "verify_bank", "verify_bid_war", "verify_double_spend", "verify_event_market",
           "verify_fok_storm", "verify_oversell", "verify_pending_storm", "verify_phantom_shares", "verify_proxy_war",
           "verify_split_merge"]
