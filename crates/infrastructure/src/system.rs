//! Time and identifiers from the operating system.

use chrono::{DateTime, SubsecRound, Utc};
use tessera_application::ports::{Clock, IdGenerator};
use uuid::Uuid;

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        // Postgres keeps microseconds; truncating here keeps values (and cursors built
        // from them) identical after a round trip through either store.
        Utc::now().trunc_subsecs(6)
    }
}

/// UUIDv7: unique and ordered by creation time, which keeps primary-key indexes compact.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}
