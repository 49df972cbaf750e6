import { Packr } from 'msgpackr'
import type { MetadataCommand, MetadataState, TaskRecord } from './types.ts'

// Plain maps on the wire and on disk (no record extension), so every version
// of every node decodes what any other wrote.
const packr = new Packr({ useRecords: false, moreTypes: false })

export function encodeCommand(command: MetadataCommand): Uint8Array {
  return packr.pack(command)
}

/** Decodes a command; the caller validates its shape. */
export function decodeCommand(bytes: Uint8Array): unknown {
  return packr.unpack(bytes)
}

/**
 * The metadata snapshot image:
 *
 * ```
 * offset size field
 *      0    4 magic "SHMD"
 *      4    1 format version (2; version 1 images, without tasks, are still read)
 *      5    n msgpack map: { state: MetadataState, appliedIndex: the log index the image is as of,
 *                           tasks: TaskRecord[] (uid order), payloads: [uid, bytes][], nextTaskUid }
 * ```
 */
const MAGIC = [0x53, 0x48, 0x4d, 0x44]
const FORMAT_VERSION = 2

export interface MetadataImage {
  readonly state: MetadataState
  readonly appliedIndex: number
  readonly tasks?: readonly TaskRecord[]
  readonly payloads?: readonly (readonly [number, Uint8Array])[]
  readonly nextTaskUid?: number
}

export function encodeState(image: MetadataImage): Uint8Array {
  const body = packr.pack(image)
  const out = new Uint8Array(5 + body.length)
  out.set(MAGIC, 0)
  out[4] = FORMAT_VERSION
  out.set(body, 5)
  return out
}

/** Decodes a snapshot image; an empty image is the empty state. Throws on a foreign or newer image. */
export function decodeState(bytes: Uint8Array): MetadataImage | null {
  if (bytes.length === 0) return null
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error('metadata snapshot: bad magic')
  }
  if (bytes[4] !== FORMAT_VERSION && bytes[4] !== 1)
    throw new Error(`metadata snapshot: unsupported format version ${bytes[4]}`)
  const image = packr.unpack(bytes.subarray(5)) as Partial<MetadataImage>
  if (
    typeof image !== 'object' ||
    image === null ||
    typeof image.appliedIndex !== 'number' ||
    typeof image.state !== 'object' ||
    (image.tasks !== undefined && !Array.isArray(image.tasks)) ||
    (image.payloads !== undefined && !Array.isArray(image.payloads))
  )
    throw new Error('metadata snapshot: malformed image')
  return image as MetadataImage
}
