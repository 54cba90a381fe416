//! The tenants' generations in Redis, never read as absent.
//!
//! A local entry counts only while the tenant's generation is the one it was kept
//! under. Were an absent key read as 0, Redis losing its keys (a restart without
//! persistence, a flush, a fail-over to an empty replica) would bring old numbers back:
//! an entry kept under 0 would match again, and so would one kept under 1 after the
//! next invalidation, though the member's access changed or the session ended (its
//! revocation mark lost with the rest) meanwhile. So whoever finds the key absent first
//! seeds it with Redis's clock in microseconds, a number no generation before the loss
//! reached (that would take more invalidations than microseconds passed since its own
//! seed), and every invalidation counts on from there. (Were Redis's clock to go back
//! across a fail-over, a seed could fall below an old number; landing on the very one
//! an entry was kept under would still take about a million invalidations a second
//! over the lag, within one local TTL.)
//!
//! An API key's lookup does not seed: its tenant comes from the secret before the
//! digest is checked, so seeding there would let anyone write keys into Redis. It reads
//! an absent generation as [`ABSENT`], a number no entry is ever kept under, and the key
//! read afresh from the database (so its tenant is real) seeds it when it is kept.

use deadpool_redis::redis::Script;

/// `current_generation(key)`: the key's generation, seeded from the clock when absent.
macro_rules! current_generation_lua {
    () => {
        r"
local function current_generation(key)
  local generation = redis.call('GET', key)
  if generation then return generation end
  local time = redis.call('TIME')
  generation = time[1] .. string.format('%06d', tonumber(time[2]))
  redis.call('SET', key, generation)
  return generation
end
"
    };
}
pub(super) use current_generation_lua;

/// `KEYS[1]` the session's revocation mark, `KEYS[2]` the tenant's generation: `{1, 0}`
/// for an ended session, else `{0, generation}`.
const LOOKUP: &str = concat!(
    current_generation_lua!(),
    r"
if redis.call('EXISTS', KEYS[1]) == 1 then return {1, 0} end
return {0, tonumber(current_generation(KEYS[2]))}
"
);

/// What a reader that does not seed answers for an absent generation; never a stamp.
pub(super) const ABSENT: i64 = 0;

/// A stamp to keep an entry under, from a lookup's generation: none for one the cache
/// could not read (`u64::MAX`) or found absent.
pub(super) fn stamp(generation: u64) -> Option<i64> {
    i64::try_from(generation).ok().filter(|g| *g != ABSENT)
}

/// `KEYS[1]` the tenant's generation: seeds it and answers the seed when it is absent,
/// else answers 0 (it was seeded or moved on since the caller found it absent).
const SEED_IF_ABSENT: &str = concat!(
    current_generation_lua!(),
    r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return tonumber(current_generation(KEYS[1]))
"
);

/// Writes a member's access into the tenant's hash (`KEYS[1]`) only while the tenant's
/// generation (`KEYS[2]`) is still the one the lookup saw (`ARGV[1]`).
const PUT_IF_CURRENT: &str = concat!(
    current_generation_lua!(),
    r"
if current_generation(KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"
);

/// Drops the tenant's hash (`KEYS[1]`), moves its generation (`KEYS[2]`) on and tells
/// the other replicas (`ARGV[1]` the channel, `ARGV[2]` the tenant).
const INVALIDATE: &str = concat!(
    current_generation_lua!(),
    r"
redis.call('DEL', KEYS[1])
current_generation(KEYS[2])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1
"
);

/// The scripts that read or move a tenant's generation.
pub(super) struct GenerationScripts {
    pub lookup: Script,
    pub seed_if_absent: Script,
    pub put_if_current: Script,
    pub invalidate: Script,
}

impl GenerationScripts {
    pub fn new() -> Self {
        Self {
            lookup: Script::new(LOOKUP),
            seed_if_absent: Script::new(SEED_IF_ABSENT),
            put_if_current: Script::new(PUT_IF_CURRENT),
            invalidate: Script::new(INVALIDATE),
        }
    }
}
