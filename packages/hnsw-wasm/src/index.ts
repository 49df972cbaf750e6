// @shoal/hnsw: HNSW vector index in AssemblyScript compiled to WASM with SIMD. The public API is re-exported here by name.
export {}
