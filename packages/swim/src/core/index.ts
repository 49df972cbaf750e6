// The deterministic protocol core: no clocks, timers, sockets or unseeded randomness.
export {}
