/**
 * Stacks held during a recording, packed: the addresses' 8 little-endian bytes each, leaf first,
 * as a one-byte (latin1) string, exactly as the kernel's stack map stores them. A 40-frame stack
 * is then ~340 bytes instead of ~1.9 KB as an array of BigInts plus a key to intern it by, and the
 * string is its own key. Unpacked once, when the recording hands its samples to the symbolizer.
 */

export type PackedStack = string;

export const NO_STACK: PackedStack = '';

/** The first `depth` addresses of a stack-map value. */
export function packBytes(bytes: Uint8Array, depth: number): PackedStack {
  return depth === 0 ? NO_STACK : Buffer.from(bytes.buffer, bytes.byteOffset, depth * 8).toString('latin1');
}

export function pack(addresses: readonly bigint[]): PackedStack {
  const bytes = Buffer.allocUnsafe(addresses.length * 8);
  addresses.forEach((address, i) => bytes.writeBigUInt64LE(address, i * 8));
  return bytes.toString('latin1');
}

export function unpack(stack: PackedStack): bigint[] {
  const bytes = Buffer.from(stack, 'latin1');
  const addresses = new Array<bigint>(bytes.length >> 3);
  for (let i = 0; i < addresses.length; i++) addresses[i] = bytes.readBigUInt64LE(i * 8);
  return addresses;
}
