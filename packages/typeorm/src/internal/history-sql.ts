import { MAX_ATTEMPT_HISTORY } from '@taskq/core';
import type { Dialect } from './dialect.js';

/*
 * The status table's `history` column is JSON text (an array of starts), changed inside the UPDATE of the transition
 * that records a start or an end, so the history costs no statement of its own. Each dialect's JSON functions do it:
 * jsonb on PostgreSQL (the column stays text, cast for the change), the JSON functions built into SQLite.
 */

/** The new value of `history` with the entry of parameter `?` (JSON text) appended, the oldest dropped beyond the bound. */
export function appendHistorySql(dialect: Dialect): string {
  if (dialect === 'postgres') {
    const h = `"history"::jsonb`;
    return `(COALESCE(CASE WHEN jsonb_array_length(${h}) >= ${MAX_ATTEMPT_HISTORY} THEN ${h} - 0 ELSE ${h} END, '[]'::jsonb) || jsonb_build_array(?::jsonb))::text`;
  }
  return `json_insert(COALESCE(CASE WHEN json_array_length("history") >= ${MAX_ATTEMPT_HISTORY} THEN json_remove("history", '$[0]') ELSE "history" END, '[]'), '$[#]', json(?))`;
}

/** The new value of `history` with the fields of parameter `?` (a JSON object) merged into the last entry, if it is open. */
export function endHistorySql(dialect: Dialect): string {
  if (dialect === 'postgres') {
    const last = `("history"::jsonb -> -1)`;
    return `CASE WHEN jsonb_typeof(${last}) = 'object' AND ${last} ->> 'outcome' IS NULL THEN jsonb_set("history"::jsonb, '{-1}', ${last} || ?::jsonb)::text ELSE "history" END`;
  }
  return `CASE WHEN json_type("history", '$[#-1]') = 'object' AND json_extract("history", '$[#-1].outcome') IS NULL THEN json_set("history", '$[#-1]', json_patch(json_extract("history", '$[#-1]'), json(?))) ELSE "history" END`;
}
