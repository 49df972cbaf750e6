/**
 * UTF-8 encoding into a reusable buffer. Protocol cores compile against the
 * ES library alone (no `TextEncoder`), and the hash path must not allocate per
 * key. Lone surrogates encode as U+FFFD, as `TextEncoder` does.
 */
export class Utf8Scratch {
  bytes = new Uint8Array(256)

  /** Encodes `text` into `this.bytes` (growing it) and returns the byte length. */
  encode(text: string): number {
    const n = text.length
    if (n * 3 > this.bytes.length) this.bytes = new Uint8Array(Math.max(n * 3, this.bytes.length * 2))
    const out = this.bytes
    let j = 0
    for (let i = 0; i < n; i++) {
      let c = text.charCodeAt(i)
      if (c < 0x80) {
        out[j++] = c
      } else if (c < 0x800) {
        out[j++] = 0xc0 | (c >>> 6)
        out[j++] = 0x80 | (c & 0x3f)
      } else {
        if (c >= 0xd800 && c <= 0xdfff) {
          const next = i + 1 < n ? text.charCodeAt(i + 1) : 0
          if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00)
            i += 1
            out[j++] = 0xf0 | (c >>> 18)
            out[j++] = 0x80 | ((c >>> 12) & 0x3f)
            out[j++] = 0x80 | ((c >>> 6) & 0x3f)
            out[j++] = 0x80 | (c & 0x3f)
            continue
          }
          c = 0xfffd
        }
        out[j++] = 0xe0 | (c >>> 12)
        out[j++] = 0x80 | ((c >>> 6) & 0x3f)
        out[j++] = 0x80 | (c & 0x3f)
      }
    }
    return j
  }
}
