//! ringmq on monoio.
