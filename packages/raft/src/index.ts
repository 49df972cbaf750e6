// @shoal/raft: Deterministic Raft core, WAL-backed driver and multi-raft host. The public API is re-exported here by name.
export {}
