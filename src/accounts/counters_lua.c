/* SPDX-License-Identifier: MIT */
/*
 * The shared counters' Lua scripts, run atomically by Redis (EVALSHA);
 * see counters_internal.h for the keys they use and docs/scale-out.md.
 *
 * Amounts are integer picodollars kept by HINCRBY (exact). The scripts
 * compare them as Lua numbers (doubles): exact while a key's spend and
 * reservations in one period stay below 2^53 picodollars ($9,007); above
 * that to within a few picodollars. Time is the Redis server's (TIME), so
 * every instance counts the same windows whatever its own clock says; a
 * budget period's start is the caller's (a UTC day, week or month).
 */
#include "counters_internal.h"

/* KEYS: 1 sb:k:H, 2 sb:r:H, 3 sb:w:H, 4 sb:inst, 5 sb:epoch
 * ARGV: 1 field (instance/worker), 2 reservation, 3 limit (-1: none),
 *       4 budget period start, 5 rpm, 6 tpm, 7 liveness ms, 8 epoch
 * Returns {-1, epoch or false}: not this epoch (not seeded, or rebuilt);
 *   {0, remaining (-1: no limit), requests in the window, reset s}: admitted;
 *   {1|2, limit, 0, reset s, retry after s}: RPM | TPM window full;
 *   {3, remaining}: the reservation does not fit. */
static const char admit_lua[] =
    "local ep = redis.call('GET', KEYS[5])\n"
    "if ep ~= ARGV[8] then return {-1, ep} end\n"
    "local t = redis.call('TIME')\n"
    "local now_s = tonumber(t[1])\n"
    "local now_ms = now_s * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local inst = string.match(ARGV[1], '^[^/]*')\n"
    "redis.call('ZADD', KEYS[4], now_ms, inst)\n"
    "local rpm, tpm = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local rb, tb, rsum, tsum = {}, {}, 0, 0\n"
    "if rpm > 0 or tpm > 0 then\n"
    "  local w = redis.call('HGETALL', KEYS[3])\n"
    "  for i = 1, #w, 2 do\n"
    "    local sec, n = tonumber(string.sub(w[i], 2)), tonumber(w[i + 1])\n"
    "    if sec <= now_s - 60 then redis.call('HDEL', KEYS[3], w[i])\n"
    "    elseif string.sub(w[i], 1, 1) == 'r' then\n"
    "      rsum = rsum + n; rb[#rb + 1] = {sec, n}\n"
    "    else tsum = tsum + n; tb[#tb + 1] = {sec, n} end\n"
    "  end\n"
    "end\n"
    "local function oldest(a, b) return a[1] < b[1] end\n"
    "local function reset(b)\n"
    "  if #b == 0 then return 0 end\n"
    "  table.sort(b, oldest)\n"
    "  return b[1][1] + 60 - now_s\n"
    "end\n"
    "local function retry(b, sum, limit)\n"
    "  table.sort(b, oldest)\n"
    "  for i = 1, #b do\n"
    "    sum = sum - b[i][2]\n"
    "    if sum < limit then return b[i][1] + 60 - now_s end\n"
    "  end\n"
    "  return 0\n"
    "end\n"
    "if tpm > 0 and tsum >= tpm then\n"
    "  return {2, tpm, 0, reset(tb), retry(tb, tsum, tpm)} end\n"
    "if rpm > 0 and rsum >= rpm then\n"
    "  return {1, rpm, 0, reset(rb), retry(rb, rsum, rpm)} end\n"
    "local limit, amount = tonumber(ARGV[3]), tonumber(ARGV[2])\n"
    "local left = -1\n"
    "if limit >= 0 then\n"
    "  local used = 0\n"
    "  if redis.call('HGET', KEYS[1], 'ps') == ARGV[4] then\n"
    "    used = tonumber(redis.call('HGET', KEYS[1], 'pu') or '0') end\n"
    "  local reserved = 0\n"
    "  local r = redis.call('HGETALL', KEYS[2])\n"
    "  for i = 1, #r, 2 do\n"
    "    local seen = redis.call('ZSCORE', KEYS[4],\n"
    "                            string.match(r[i], '^[^/]*'))\n"
    "    if not seen or tonumber(seen) < now_ms - tonumber(ARGV[7]) then\n"
    "      redis.call('HDEL', KEYS[2], r[i])\n"
    "    else reserved = reserved + tonumber(r[i + 1]) end\n"
    "  end\n"
    "  left = limit - used - reserved\n"
    "  if amount > left then\n"
    "    if left < 0 then left = 0 end\n"
    "    return {3, left}\n"
    "  end\n"
    "  left = left - amount\n"
    "  if amount > 0 then redis.call('HINCRBY', KEYS[2], ARGV[1], amount) end\n"
    "end\n"
    "if rpm > 0 then\n"
    "  redis.call('HINCRBY', KEYS[3], 'r' .. now_s, 1)\n"
    "  redis.call('EXPIRE', KEYS[3], 120)\n"
    "  rsum = rsum + 1; rb[#rb + 1] = {now_s, 1}\n"
    "end\n"
    "return {0, left, rsum, reset(rb)}\n";

/* The key's spend in the periods starting at ARGV[a..a+3] (a budget
 * period, the day, the week, the month), as strings: `v` read from
 * sb:k:H, `at` the value of a period that is the current one, else 0. */
#define SPEND_LUA(a)                                                           \
  "local v = redis.call('HMGET', KEYS[1], 'tot', 'req', 'ps', 'pu', 'ds',\n" \
  "                     'du', 'ws', 'wu', 'ms', 'mu')\n"                     \
  "local function at(sf, vf, start)\n"                                        \
  "  if v[sf] == start then return v[vf] or '0' end\n"                        \
  "  return '0'\n"                                                            \
  "end\n"                                                                     \
  "local spend = {0, v[1] or '0', v[2] or '0', at(3, 4, ARGV[" #a "]),\n"    \
  "               at(5, 6, ARGV[" #a " + 1]), at(7, 8, ARGV[" #a " + 2]),\n" \
  "               at(9, 10, ARGV[" #a " + 3])}\n"

/* KEYS: 1 sb:k:H, 2 sb:r:H, 3 sb:w:H, 4 sb:epoch, 5 sb:ack:FIELD
 * ARGV: 1 field, 2 reservation to release, 3 cost (may be < 0: a refund),
 *       4 tokens for the TPM window (0: none), 5 epoch,
 *       6 budget period start, 7 day start, 8 week start, 9 month start,
 *       10 requests to count (0 or 1), 11 the settlement's number on the
 *       field's connection ("": not counted)
 * Returns {-1, epoch or false} when not in this epoch (nothing done),
 *   else {0, total, requests, period, day, week, month} as strings. */
static const char settle_lua[] =
    "local ep = redis.call('GET', KEYS[4])\n"
    "if ep ~= ARGV[5] then return {-1, ep} end\n"
    "if ARGV[11] ~= '' then\n"
    "  redis.call('SET', KEYS[5], ARGV[11], 'EX', 86400) end\n"
    "local res = tonumber(ARGV[2])\n"
    "if res > 0 then\n"
    "  if redis.call('HINCRBY', KEYS[2], ARGV[1], -res) <= 0 then\n"
    "    redis.call('HDEL', KEYS[2], ARGV[1]) end\n"
    "end\n"
    "local function add(sf, vf, start)\n"
    "  local cur = redis.call('HGET', KEYS[1], sf)\n"
    "  if cur ~= start then\n"
    "    if cur and tonumber(cur) > tonumber(start) then return end\n"
    "    redis.call('HSET', KEYS[1], sf, start, vf, 0)\n"
    "  end\n"
    "  redis.call('HINCRBY', KEYS[1], vf, ARGV[3])\n"
    "end\n"
    "add('ps', 'pu', ARGV[6])\n"
    "add('ds', 'du', ARGV[7])\n"
    "add('ws', 'wu', ARGV[8])\n"
    "add('ms', 'mu', ARGV[9])\n"
    "redis.call('HINCRBY', KEYS[1], 'tot', ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[1], 'req', ARGV[10])\n"
    "if tonumber(ARGV[4]) > 0 then\n"
    "  local t = redis.call('TIME')\n"
    "  redis.call('HINCRBY', KEYS[3], 't' .. t[1], ARGV[4])\n"
    "  redis.call('EXPIRE', KEYS[3], 120)\n"
    "end\n"
    SPEND_LUA(6)
    "return spend\n";

/* KEYS: 1 sb:k:H, 2 sb:r:H, 3 sb:inst, 4 sb:epoch
 * ARGV: 1 budget period start, 2 day, 3 week, 4 month, 5 liveness ms
 * Returns {-1} when not seeded, else {0, total, requests, period, day,
 *   week, month, reserved by every live instance} as strings. */
static const char view_lua[] =
    "if not redis.call('GET', KEYS[4]) then return {-1} end\n"
    "local t = redis.call('TIME')\n"
    "local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    SPEND_LUA(1)
    "local reserved = 0\n"
    "local r = redis.call('HGETALL', KEYS[2])\n"
    "for i = 1, #r, 2 do\n"
    "  local seen = redis.call('ZSCORE', KEYS[3], string.match(r[i], '^[^/]*'))\n"
    "  if seen and tonumber(seen) >= now_ms - tonumber(ARGV[5]) then\n"
    "    reserved = reserved + tonumber(r[i + 1]) end\n"
    "end\n"
    "spend[8] = tostring(reserved)\n"
    "return spend\n";

/* KEYS: 1 sb:inst.  ARGV: 1 instance id.  The instance is alive now; ids
 * not seen for an hour are forgotten. */
static const char beat_lua[] =
    "local t = redis.call('TIME')\n"
    "local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "redis.call('ZADD', KEYS[1], now_ms, ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - 3600000)\n"
    "return now_ms\n";

/* KEYS: 1 sb:seeding, 2 sb:epoch, then per key: sb:k:H, sb:r:H
 * ARGV: 1 instance id, then per key: total, requests, ps, pu, ds, du, ws,
 *       wu, ms, mu
 * Writes the keys' spend as the store has it (their reservations are
 * gone with the Redis that held them), while this instance holds the
 * seeding lock and no epoch is set. Returns 1, or 0 when it may not. */
static const char seed_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "local names = {'tot', 'req', 'ps', 'pu', 'ds', 'du', 'ws', 'wu', 'ms',\n"
    "               'mu'}\n"
    "local a = 2\n"
    "for k = 3, #KEYS, 2 do\n"
    "  redis.call('DEL', KEYS[k], KEYS[k + 1])\n"
    "  for i = 1, 10 do\n"
    "    redis.call('HSET', KEYS[k], names[i], ARGV[a]); a = a + 1\n"
    "  end\n"
    "end\n"
    "return 1\n";

/* KEYS: 1 sb:seeding, 2 sb:epoch.  ARGV: 1 instance id, 2 the epoch.
 * The rebuild is complete: the epoch is set and the lock released. */
static const char seeded_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end\n"
    "redis.call('SET', KEYS[2], ARGV[2])\n"
    "return 1\n";

/* KEYS: 1 sb:seeding.  ARGV: 1 instance id.  A rebuild that failed lets
 * go of its lock, so that the next one need not wait for it to expire. */
static const char unlock_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n";

const char *const sb_counters_lua[SB_SCRIPT_N] = {
    [SB_SCRIPT_ADMIT] = admit_lua,   [SB_SCRIPT_SETTLE] = settle_lua,
    [SB_SCRIPT_VIEW] = view_lua,     [SB_SCRIPT_BEAT] = beat_lua,
    [SB_SCRIPT_SEED] = seed_lua,     [SB_SCRIPT_SEEDED] = seeded_lua,
    [SB_SCRIPT_UNLOCK] = unlock_lua,
};
