// The parts of the WebAssembly JavaScript API this package uses. Node
// provides the global at run time; TypeScript declares it only in the DOM
// library, which a Node package does not load.
declare namespace WebAssembly {
  interface Memory {
    readonly buffer: ArrayBuffer
  }
  class Module {}
  class Instance {
    constructor(module: Module, imports: Record<string, unknown>)
    readonly exports: Record<string, unknown>
  }
  function compile(bytes: Uint8Array): Promise<Module>
}
