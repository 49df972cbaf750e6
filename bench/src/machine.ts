import os from 'node:os'

/** What a figure was measured on; written beside every result. */
export interface MachineInfo {
  cpuModel: string
  cores: number
  memoryBytes: number
  platform: string
  arch: string
  node: string
  date: string
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryBytes: os.totalmem(),
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
    date: new Date().toISOString(),
  }
}

/** The machine's load at one moment: 1/5/15-minute load averages (the machines are shared). */
export interface LoadSample {
  date: string
  loadavg: [number, number, number]
  cores: number
}

export function loadSample(): LoadSample {
  const [one = 0, five = 0, fifteen = 0] = os.loadavg()
  return { date: new Date().toISOString(), loadavg: [one, five, fifteen], cores: os.cpus().length }
}
