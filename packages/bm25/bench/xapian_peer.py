"""Xapian peer for the bm25 benchmark (Debian's python3-xapian, BM25Weight).

Reads the same corpus file and queries as the TypeScript suite, builds a database in a
temporary folder, runs every query for its top 10, and prints one JSON line:
{"version", "build_seconds", "docs", "queries_per_second", "results": [[id, ...], ...]}.

The database lives in a temporary folder on /dev/shm when there is one (memory, like the
in-process engines), else in the system temporary folder.

Usage: python3 xapian_peer.py CORPUS.jsonl.gz LIMIT QUERIES.json REPEATS
"""
import gzip
import json
import os
import re
import resource
import shutil
import sys
import tempfile
import time

import xapian


def main():
    corpus_path, limit, queries_path, repeats = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    docs = []
    with gzip.open(corpus_path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            docs.append(json.loads(line))
            if len(docs) >= limit:
                break
    with open(queries_path, encoding="utf-8") as f:
        queries = json.load(f)

    parent = "/dev/shm" if os.path.isdir("/dev/shm") else None
    folder = tempfile.mkdtemp(prefix="shoal-xapian-", dir=parent)
    try:
        started = time.perf_counter()
        db = xapian.WritableDatabase(folder, xapian.DB_CREATE_OR_OVERWRITE)
        generator = xapian.TermGenerator()
        generator.set_stemmer(xapian.Stem("en"))
        for doc in docs:
            xdoc = xapian.Document()
            generator.set_document(xdoc)
            # Field weights as every engine gets them (peers.ts BOOSTS): name 2, summary 8, description 1.
            name = re.sub(r"[-.+_]", " ", doc["package"]) + " " + doc["package"]
            generator.index_text(name, 2)
            generator.increase_termpos()
            generator.index_text(doc["summary"], 8)
            generator.increase_termpos()
            generator.index_text(doc["description"])
            db.replace_document(doc["id"] + 1, xdoc)
        db.commit()
        build_seconds = time.perf_counter() - started

        enquire = xapian.Enquire(db)
        enquire.set_weighting_scheme(xapian.BM25Weight())
        parser = xapian.QueryParser()
        parser.set_stemmer(xapian.Stem("en"))
        parser.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
        parser.set_database(db)
        parser.set_default_op(xapian.Query.OP_OR)
        flags = xapian.QueryParser.FLAG_DEFAULT | xapian.QueryParser.FLAG_PARTIAL

        def run(text):
            enquire.set_query(parser.parse_query(text, flags))
            return [m.docid - 1 for m in enquire.get_mset(0, 10)]

        results = [run(q) for q in queries]
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            for q in queries:
                run(q)
            timings.append(time.perf_counter() - started)
        timings.sort()
        median = timings[len(timings) // 2]
        print(json.dumps({
            "version": xapian.version_string(),
            "build_seconds": build_seconds,
            "docs": len(docs),
            "queries_per_second": len(queries) / median,
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "results": results,
        }))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
