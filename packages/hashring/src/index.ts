// @shoal/hashring: Consistent hashing, shard placement and minimal move plans. The public API is re-exported here by name.
export {}
