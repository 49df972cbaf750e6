// @shoal/swim: SWIM membership with Lifeguard over authenticated UDP. The public API is re-exported here by name.
export {}
