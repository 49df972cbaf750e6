import { readdir, readFile, readlink } from 'node:fs/promises'
import type net from 'node:net'

/**
 * Which process holds the other end of an accepted loopback TCP connection,
 * found the way `ss -p` finds it (Linux only): the dialer's socket is the
 * `/proc/net/tcp` entry whose local address is the accepted socket's remote
 * address; its inode names the socket, and the process that has
 * `socket:[inode]` among its file descriptors owns it. Only `candidates` are
 * searched. `null` when the entry or the owner cannot be found (the dialer
 * already closed, or it is another process).
 */
export async function tcpDialerPid(
  socket: net.Socket,
  candidates: readonly number[],
): Promise<number | null> {
  const { remoteAddress, remotePort, localAddress, localPort } = socket
  if (remoteAddress === undefined || remotePort === undefined) return null
  if (localAddress === undefined || localPort === undefined) return null
  const inode = await socketInode(remoteAddress, remotePort, localAddress, localPort)
  if (inode === null) return null
  const wanted = `socket:[${inode}]`
  for (const pid of candidates) {
    let fds: string[]
    try {
      fds = await readdir(`/proc/${pid}/fd`)
    } catch {
      continue
    }
    for (const fd of fds) {
      try {
        if ((await readlink(`/proc/${pid}/fd/${fd}`)) === wanted) return pid
      } catch {}
    }
  }
  return null
}

/** The inode of the IPv4 TCP socket bound to `local` and connected to `remote`, or null. */
async function socketInode(
  localHost: string,
  localPort: number,
  remoteHost: string,
  remotePort: number,
): Promise<string | null> {
  const local = procAddress(localHost, localPort)
  const remote = procAddress(remoteHost, remotePort)
  if (local === null || remote === null) return null
  let table: string
  try {
    table = await readFile('/proc/net/tcp', 'utf8')
  } catch {
    return null
  }
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields[1] === local && fields[2] === remote) {
      const inode = fields[9]
      return inode === undefined || inode === '0' ? null : inode
    }
  }
  return null
}

/**
 * An address as `/proc/net/tcp` prints it: the IPv4 address as a 32-bit
 * number in host byte order (little-endian on the machines this runs on),
 * the port big-endian, both in upper-case hex. `null` for non-IPv4 text.
 */
export function procAddress(host: string, port: number): string | null {
  const v4 = host.startsWith('::ffff:') ? host.slice(7) : host
  const parts = v4.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return null
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0')
  return `${parts
    .reverse()
    .map((p) => hex(p, 2))
    .join('')}:${hex(port, 4)}`
}
