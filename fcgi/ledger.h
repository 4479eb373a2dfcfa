/*
 * ledger.h — facts about the ledger shared by the handlers.
 */
#ifndef ZS_LEDGER_H
#define ZS_LEDGER_H

/* The one issuer account (created by migration 002). */
#define LEDGER_ISSUER_ID "00000000-0000-0000-0000-000000000001"

/* SQL expression formatting a timestamptz column as RFC 3339 UTC with microseconds. */
#define LEDGER_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* Longest memo, in characters. */
#define LEDGER_MEMO_MAX 140

#endif
