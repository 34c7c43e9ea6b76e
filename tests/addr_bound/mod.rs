//! What `test_addr_bound` runs on: a counting global allocator, and a room actor
//! whose members are sessions reached through their actors (an `Addr`, a
//! `Recipient`, a multiplexed channel's handle).

pub(crate) mod heap;
pub(crate) mod room;
