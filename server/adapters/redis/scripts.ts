import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * The driver's Lua scripts. Each runs atomically on the server, which is what makes the
 * multi-step operations safe between competing consumers: a due retry is promoted exactly once,
 * a retry is scheduled only by the delivery that still holds the entry, a heartbeat never takes an
 * entry back from a consumer that has claimed it.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script (restart, flush). */
  async run(connection: Redis, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await connection.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return connection.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const TO_MAP = `
local function to_map(flat)
  local map = {}
  for i = 1, #flat, 2 do map[flat[i]] = flat[i + 1] end
  return map
end
`;

const NOW_MS = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS: the group's six streams in order of preference. ARGV: group, consumer, count, minIdle
 * (0: do not reclaim), then one XAUTOCLAIM cursor per stream.
 *
 * Plans one fetch of up to `count` entries. For each stream in turn: reclaims entries idle for
 * minIdle ms (their consumer is presumed dead), with their delivery counts; then allots the rest
 * of `count` to the entries the group has not been given yet (XINFO GROUPS lag on topic streams;
 * on retry streams, where acked entries are deleted, XLEN minus pending). The caller reads the
 * allotted counts with plain XREADGROUPs: entries read inside Lua cost Redis a conversion to Lua
 * values and back, several times the read itself. Between plan and read others may take entries,
 * so a read returns at most its count: never more than the free slots in total.
 *
 * Returns { cursors, { {streamIndex, entries, deliveryCounts}... }, counts, lastDeliveredIds }.
 * With nothing to take, the caller waits with XREAD from the last delivered ids: that wakes it
 * for any entry the group has not been given yet, but takes nothing.
 */
export const fetchPlanScript = new LuaScript(`${TO_MAP}
local group, consumer = ARGV[1], ARGV[2]
local remaining = tonumber(ARGV[3])
local min_idle = tonumber(ARGV[4])
local cursors, claimed, counts, last_ids = {}, {}, {}, {}
for i = 1, #KEYS do
  local cursor = ARGV[4 + i]
  if min_idle > 0 and remaining > 0 then
    local reply = redis.pcall('XAUTOCLAIM', KEYS[i], group, consumer, min_idle, cursor, 'COUNT', remaining)
    if reply.err then return redis.error_reply('NOGROUP ' .. KEYS[i] .. ': ' .. reply.err) end
    cursor = reply[1]
    local entries = reply[2]
    if #entries > 0 then
      local deliveries = {}
      for j, entry in ipairs(entries) do
        local pending = redis.call('XPENDING', KEYS[i], group, entry[1], entry[1], 1)
        deliveries[j] = pending[1] and pending[1][4] or 1
      end
      claimed[#claimed + 1] = { i - 1, entries, deliveries }
      remaining = remaining - #entries
    end
  end
  cursors[i] = cursor
  local groups = redis.pcall('XINFO', 'GROUPS', KEYS[i])
  if groups.err then return redis.error_reply('NOGROUP ' .. KEYS[i] .. ': ' .. groups.err) end
  local info = nil
  for _, flat in ipairs(groups) do
    local candidate = to_map(flat)
    if candidate['name'] == group then info = candidate end
  end
  if info == nil then return redis.error_reply('NOGROUP ' .. KEYS[i] .. ' has no group ' .. group) end
  last_ids[i] = info['last-delivered-id']
  counts[i] = 0
  if remaining > 0 then
    local available
    if i % 2 == 1 then
      available = redis.call('XLEN', KEYS[i]) - info['pending']
    elseif info['lag'] then
      available = info['lag']
    else
      -- Lag unknown (not expected on topic streams, which are only trimmed): the read decides.
      available = remaining
    end
    if available > 0 then
      counts[i] = math.min(available, remaining)
      remaining = remaining - counts[i]
    end
  end
end
return { cursors, claimed, counts, last_ids }
`);

/**
 * KEYS: delayed set, the stream holding the entry. ARGV: group, entry id, delay ms, member (see
 * toDelayedMember), "1" to delete the entry (retry streams).
 * Acks the entry and schedules the message, but only if the entry was still pending: a delivery
 * that another consumer already settled does not schedule a second copy.
 */
export const retryScript = new LuaScript(`${NOW_MS}
if redis.call('XACK', KEYS[2], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[5] == '1' then redis.call('XDEL', KEYS[2], ARGV[2]) end
redis.call('ZADD', KEYS[1], now_ms() + tonumber(ARGV[3]), ARGV[4])
return 1
`);

/**
 * KEYS: delayed set, then the group's retry streams (high, normal, low). ARGV: most to move.
 * Moves due messages into the retry stream of their priority, removing each from the set in the
 * same atomic step, so two consumers never promote one message twice. Returns { moved, ms until
 * the next due message or -1 }.
 */
export const promoteScript = new LuaScript(`${NOW_MS}
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local fields, at = {}, 2
  while at <= #member do
    local colon = string.find(member, ':', at, true)
    local length = tonumber(string.sub(member, at, colon - 1))
    fields[#fields + 1] = string.sub(member, colon + 1, colon + length)
    at = colon + length + 1
  end
  redis.call('XADD', KEYS[1 + tonumber(string.sub(member, 1, 1))], '*', unpack(fields))
  redis.call('ZREM', KEYS[1], member)
end
local next_due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if next_due[2] == nil then return { #due, -1 } end
return { #due, math.max(0, tonumber(next_due[2]) - now) }
`);

/**
 * KEYS: a stream. ARGV: group, consumer, entry ids. Resets the idle time of those entries that
 * this consumer still owns (XCLAIM JUSTID leaves the delivery count alone), so a slow handler's
 * deliveries are not reclaimed as if its consumer had died. Returns how many it kept.
 */
export const heartbeatScript = new LuaScript(`
local kept = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then kept[#kept + 1] = ARGV[i] end
end
if #kept > 0 then
  kept[#kept + 1] = 'JUSTID'
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(kept))
  return #kept - 1
end
return 0
`);

const ID_ORDER = `
local function older(a, b)
  local a_ms, a_seq = string.match(a, '(%d+)-(%d+)')
  local b_ms, b_seq = string.match(b, '(%d+)-(%d+)')
  if tonumber(a_ms) ~= tonumber(b_ms) then return tonumber(a_ms) < tonumber(b_ms) end
  return tonumber(a_seq) < tonumber(b_seq)
end
`;

/**
 * KEYS: a group's stream. ARGV: group, idle ms. Forgets the group's consumers that hold nothing
 * and have been idle that long: crashed instances, which would otherwise stay listed forever
 * (a live consumer that is forgotten is recreated by its next XREADGROUP).
 */
export const pruneScript = new LuaScript(`${TO_MAP}
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then return 0 end
local pruned = 0
for _, flat in ipairs(consumers) do
  local consumer = to_map(flat)
  if consumer['pending'] == 0 and consumer['idle'] > tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], consumer['name'])
    pruned = pruned + 1
  end
end
return pruned
`);

/**
 * KEYS: a topic stream. Trims it below the oldest entry some group still needs (its oldest
 * pending entry, else its last delivered one); with no group at all, nobody can ever read the
 * entries (a new group starts at the end), so all go. Topic streams are shared by every group of
 * the topic: an entry may only go when every group is done with it. Trimming is approximate
 * (`~`: whole stream nodes of about 100 entries): exact trimming of a busy stream takes Redis
 * milliseconds, during which every client waits.
 */
export const trimScript = new LuaScript(`${TO_MAP}${ID_ORDER}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local floor = nil
for _, flat in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local group = to_map(flat)
  local keep = group['last-delivered-id']
  if group['pending'] > 0 then keep = redis.call('XPENDING', KEYS[1], group['name'])[2] end
  if floor == nil or older(keep, floor) then floor = keep end
end
if floor == nil then return redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', 0) end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', floor)
`);
