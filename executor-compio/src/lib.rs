//! ringmq on compio.
