/**
 * Page-aligned buffers, for writes with O_DIRECT (which must come from memory aligned
 * to the disk's block). Node's own Buffer allocations are not aligned (a write from one
 * fails with EINVAL); the memory of a WebAssembly.Memory starts on a page, so buffers cut
 * from it at multiples of 4096 bytes are. No native code is needed.
 */

/** The alignment asked of buffers, offsets and lengths (the largest common logical block). */
export const DIRECT_ALIGN = 4096;

/** Buffers cut from one WebAssembly.Memory (V8 reserves address space per memory, so few are made). */
const PER_SLAB = 8;

/** The runtime's WebAssembly.Memory (the project's TypeScript libraries do not declare it as a value). */
const WasmMemory = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number }) => { buffer: ArrayBuffer } } })
  .WebAssembly.Memory;

/**
 * A pool of aligned buffers of one size. Buffers are made eight at a time and kept once
 * made (their memory cannot be given back piecemeal), so the pool holds what the most
 * copies at once needed: two per copy in flight.
 */
export class AlignedPool {
  private readonly free: Buffer[] = [];

  /** `size` is rounded up to a multiple of {@link DIRECT_ALIGN}. */
  constructor(size: number) {
    this.size = Math.max(DIRECT_ALIGN, Math.ceil(size / DIRECT_ALIGN) * DIRECT_ALIGN);
  }

  readonly size: number;

  take(): Buffer {
    const b = this.free.pop();
    if (b) return b;
    const pages = Math.ceil((this.size * PER_SLAB) / 65536);
    const memory = new WasmMemory({ initial: pages, maximum: pages });
    for (let i = 1; i < PER_SLAB; i++) this.free.push(Buffer.from(memory.buffer, i * this.size, this.size));
    return Buffer.from(memory.buffer, 0, this.size);
  }

  give(b: Buffer): void {
    this.free.push(b);
  }
}
