//! The server kit: pure functions a server uses to answer FETCH, SEARCH,
//! SORT and THREAD from stored messages, and the bookkeeping of a selected
//! mailbox. No I/O.

pub mod mailbox;
