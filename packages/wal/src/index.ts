// @shoal/wal: Segmented, checksummed write-ahead log with group commit and crash recovery. The public API is re-exported here by name.
export {}
