/**
 * Live updates by polling: `tick` runs, then again `intervalMs` after it finished (never two at
 * once, so a slow node is not piled on), paused while the tab is hidden and run at once when it
 * shows again. Returns the function that stops it.
 */
export function poll(intervalMs: number, tick: () => Promise<void>): () => void {
  let stopped = false
  let running = false
  let timer: ReturnType<typeof setTimeout> | undefined
  const run = async () => {
    if (stopped || running) return
    clearTimeout(timer)
    if (document.hidden) return
    running = true
    try {
      await tick()
    } finally {
      running = false
      if (!stopped) timer = setTimeout(run, intervalMs)
    }
  }
  const onVisibility = () => {
    if (!document.hidden) void run()
  }
  document.addEventListener('visibilitychange', onVisibility)
  void run()
  return () => {
    stopped = true
    clearTimeout(timer)
    document.removeEventListener('visibilitychange', onVisibility)
  }
}
