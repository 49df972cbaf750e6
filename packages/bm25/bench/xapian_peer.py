"""Xapian peer for the bm25 benchmark (Debian's python3-xapian, BM25Weight).

Reads the corpus file once, then answers one JSON command per stdin line with one JSON line,
so that the TypeScript suite can interleave Xapian's rounds with the other engines':

  {"cmd": "build", "backend": "disk"|"memory", "limit": N}
      builds a fresh database of the first N documents and answers {"seconds"}. "disk" is a
      glass database in a new folder of the system temporary folder (on disk, committed, page
      cache warm afterwards); "memory" is Xapian's InMemory backend (no files at all).
  {"cmd": "search", "queries": [...], "partial": bool}  -> {"results": [[id, ...], ...]}
  {"cmd": "time", "queries": [...], "partial": bool}    -> {"seconds"} for one pass
  {"cmd": "info"}  -> {"version", "max_rss_bytes"}

Analysis (argv[2]): "stem" indexes with positions and the English stemmer and parses queries
with STEM_SOME (Xapian's usual setup); "plain" indexes without positions and without stemming
and parses without a stemmer, which is what @shoal/bm25 does.

Field weights come from argv[3] as JSON {"name", "summary", "description"} (wdf multipliers).

Usage: python3 xapian_peer.py CORPUS.jsonl.gz stem|plain BOOSTS_JSON LIMIT (documents read)
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


def load(corpus_path, limit):
    docs = []
    with gzip.open(corpus_path, "rt", encoding="utf-8") as f:
        for line in f:
            if len(docs) >= limit:
                break
            if line.strip():
                docs.append(json.loads(line))
    return docs


class Peer:
    def __init__(self, docs, analysis, boosts):
        self.docs = docs
        self.stem = analysis == "stem"
        self.boosts = boosts
        self.db = None
        self.folder = None

    def close(self):
        if self.db is not None:
            self.db.close()
            self.db = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def index(self, generator, text, weight):
        if self.stem:
            generator.index_text(text, weight)
            generator.increase_termpos()
        else:
            generator.index_text_without_positions(text, weight)

    def build(self, backend, limit):
        self.close()
        started = time.perf_counter()
        if backend == "memory":
            db = xapian.WritableDatabase("", xapian.DB_BACKEND_INMEMORY)
        else:
            self.folder = tempfile.mkdtemp(prefix="shoal-xapian-")
            db = xapian.WritableDatabase(self.folder, xapian.DB_CREATE_OR_OVERWRITE)
        generator = xapian.TermGenerator()
        if self.stem:
            generator.set_stemmer(xapian.Stem("en"))
        for doc in self.docs[:limit]:
            xdoc = xapian.Document()
            generator.set_document(xdoc)
            name = re.sub(r"[-.+_]", " ", doc["package"]) + " " + doc["package"]
            self.index(generator, name, self.boosts["name"])
            self.index(generator, doc["summary"], self.boosts["summary"])
            self.index(generator, doc["description"], self.boosts["description"])
            db.replace_document(doc["id"] + 1, xdoc)
        db.commit()
        seconds = time.perf_counter() - started
        self.db = db
        self.enquire = xapian.Enquire(db)
        self.enquire.set_weighting_scheme(xapian.BM25Weight())
        self.parser = xapian.QueryParser()
        if self.stem:
            self.parser.set_stemmer(xapian.Stem("en"))
            self.parser.set_stemming_strategy(xapian.QueryParser.STEM_SOME)
        else:
            self.parser.set_stemming_strategy(xapian.QueryParser.STEM_NONE)
        self.parser.set_database(db)
        self.parser.set_default_op(xapian.Query.OP_OR)
        return seconds

    def search(self, text, partial):
        flags = xapian.QueryParser.FLAG_DEFAULT
        if partial:
            flags |= xapian.QueryParser.FLAG_PARTIAL
        self.enquire.set_query(self.parser.parse_query(text, flags))
        return [m.docid - 1 for m in self.enquire.get_mset(0, 10)]


def main():
    peer = Peer(load(sys.argv[1], int(sys.argv[4])), sys.argv[2], json.loads(sys.argv[3]))
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            command = json.loads(line)
            cmd = command["cmd"]
            if cmd == "build":
                answer = {"seconds": peer.build(command["backend"], command["limit"])}
            elif cmd == "search":
                partial = command["partial"]
                answer = {"results": [peer.search(q, partial) for q in command["queries"]]}
            elif cmd == "time":
                partial = command["partial"]
                started = time.perf_counter()
                for q in command["queries"]:
                    peer.search(q, partial)
                answer = {"seconds": time.perf_counter() - started}
            elif cmd == "info":
                answer = {
                    "version": xapian.version_string(),
                    "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                }
            else:
                answer = {"error": "unknown command " + cmd}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        peer.close()


if __name__ == "__main__":
    main()
