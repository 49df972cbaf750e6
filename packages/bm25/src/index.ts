// @shoal/bm25: Text analyzers and a WASM inverted index with BM25 top-k. The public API is re-exported here by name.
export {}
