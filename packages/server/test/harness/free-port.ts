import dgram from 'node:dgram'
import { readFile } from 'node:fs/promises'
import net from 'node:net'

/**
 * The nodes' ports are chosen below the kernel's ephemeral range: a port
 * picked in that range and released until the node binds it may meanwhile be
 * handed to any socket bound to port 0 (the fault proxies this harness starts
 * next, or another program), and the node then fails with EADDRINUSE.
 */
let portFloor: number | undefined

async function fixedPortFloor(): Promise<number> {
  if (portFloor !== undefined) return portFloor
  let low = 32768
  try {
    const text = await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
    const parsed = Number.parseInt(text.trim().split(/\s+/)[0] ?? '', 10)
    if (Number.isInteger(parsed) && parsed > 12000) low = parsed
  } catch {}
  portFloor = low
  return low
}

async function canBind(port: number, udp: boolean): Promise<boolean> {
  const server = net.createServer()
  const tcpOk = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => resolve(true))
  })
  if (tcpOk) await new Promise<void>((resolve) => server.close(() => resolve()))
  if (!tcpOk || !udp) return tcpOk
  const socket = dgram.createSocket('udp4')
  const udpOk = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false))
    socket.bind(port, '127.0.0.1', () => resolve(true))
  })
  if (udpOk) await new Promise<void>((resolve) => socket.close(() => resolve()))
  return udpOk
}

/** A port free now for TCP (and UDP too when `udp`, as SWIM uses one number for both), outside the ephemeral range. */
export async function freePort(udp = false): Promise<number> {
  const high = (await fixedPortFloor()) - 1
  const low = 10_000
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1))
    if (await canBind(port, udp)) return port
  }
  throw new Error(`no free port found in ${low}–${high}`)
}
