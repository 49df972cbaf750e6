/**
 * Reading a task's payload file (the documents as one JSON array) without holding the event loop:
 * `JSON.parse` of a 4 MB array takes about 40 ms in one piece, of a 100 MB one over a second. The
 * bytes are scanned for the array's top-level commas (a byte scan is enough: the structural
 * characters are ASCII, and UTF-8 never uses bytes below 0x80 inside a multi-byte character), and
 * about `SLICE_BYTES` of whole elements at a time are parsed, with a pause between slices. The
 * documents are exactly `JSON.parse`'s; anything that is not a well-formed array (the server only
 * writes well-formed ones) is parsed in one piece, so it fails with `JSON.parse`'s own error.
 */

/** Bytes of whole elements parsed between two pauses. */
export const SLICE_BYTES = 256 * 1024

const OPEN_ARRAY = 0x5b
const CLOSE_ARRAY = 0x5d
const OPEN_OBJECT = 0x7b
const CLOSE_OBJECT = 0x7d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const COMMA = 0x2c

/** One turn of the event loop: what the server's slices pause for. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** The documents of a payload file; `sliceBytes` is how many bytes of elements to parse per slice. */
export async function parseJsonArrayInSlices(
  bytes: Buffer,
  pause: () => Promise<void>,
  sliceBytes = SLICE_BYTES,
): Promise<unknown[]> {
  const start = firstNonSpace(bytes, 0)
  if (start >= bytes.length || bytes[start] !== OPEN_ARRAY) return wholeArray(bytes)
  const out: unknown[] = []
  let depth = 0
  let inString = false
  let escaped = false
  let sliceStart = start + 1
  for (let i = start; i < bytes.length; i++) {
    const c = bytes[i]!
    if (inString) {
      if (escaped) escaped = false
      else if (c === BACKSLASH) escaped = true
      else if (c === QUOTE) inString = false
      continue
    }
    if (c === QUOTE) inString = true
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++
    else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--
      if (depth === 0) {
        if (firstNonSpace(bytes, i + 1) !== bytes.length) return wholeArray(bytes)
        appendElements(out, bytes, sliceStart, i)
        return out
      }
    } else if (c === COMMA && depth === 1 && i - sliceStart >= sliceBytes) {
      appendElements(out, bytes, sliceStart, i)
      sliceStart = i + 1
      await pause()
    }
  }
  return wholeArray(bytes)
}

/** Parses the elements in `bytes[from, to)` (whole elements separated by commas) onto `out`. */
function appendElements(out: unknown[], bytes: Buffer, from: number, to: number): void {
  const elements = JSON.parse(`[${bytes.toString('utf8', from, to)}]`) as unknown[]
  for (const element of elements) out.push(element)
}

function wholeArray(bytes: Buffer): unknown[] {
  const parsed = JSON.parse(bytes.toString('utf8')) as unknown
  if (!Array.isArray(parsed)) throw new TypeError('a payload file holds a JSON array')
  return parsed
}

/** The index of the first byte at or after `from` that is not JSON whitespace (or the length). */
function firstNonSpace(bytes: Buffer, from: number): number {
  let i = from
  while (i < bytes.length) {
    const c = bytes[i]!
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
    i++
  }
  return i
}
