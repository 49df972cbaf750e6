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
