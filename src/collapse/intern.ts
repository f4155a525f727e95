// Hash tables over bytes and integer pairs for the collapsers' hot loops. A 40 MB perf script has
// ~500k stack lines but only ~20k distinct ones: looking a line's bytes up without making a string
// for it, and keying stacks by integers instead of joined strings, is what makes collapse fast
// (a string per line, per field and per stack key cost ~1 s of CPU on that corpus, mostly GC).

/** FNV-1a's first step; continue with `hashByte`. */
const NONE = new Int32Array(0);

export const HASH_SEED = 0x811c9dc5 | 0;

export const hashByte = (hash: number, byte: number): number => Math.imul(hash ^ byte, 0x01000193);

/**
 * A step of a hash over four bytes read as a little-endian int32 (MurmurHash3's mixing): a table
 * looks keys up by the low bits of their hash, which FNV's multiply alone would leave untouched
 * by a word's high bytes. End with `hashEnd`.
 */
export function hashWord(hash: number, word: number): number {
  let k = Math.imul(word, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  hash ^= k;
  return (Math.imul((hash << 13) | (hash >>> 19), 5) + 0xe6546b64) | 0;
}

/** The last step of a hash made of `hashWord` and `hashByte` steps over `length` bytes. */
export function hashEnd(hash: number, length: number): number {
  hash ^= length;
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}

/** A DataView over all of `bytes`, for `equalRuns`. */
export const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * True when `a` from `aStart` and `b` from `bStart` hold the same `length` bytes. Compared four
 * bytes at a time: stack lines are ~80 bytes, and comparing them byte by byte was 40 % of the
 * parse (a DataView read is inlined by V8 and unaligned reads cost nothing extra on x86 and arm64).
 */
export function equalRuns(a: DataView, aStart: number, b: DataView, bStart: number, length: number): boolean {
  let i = 0;
  for (; i + 4 <= length; i += 4) if (a.getInt32(aStart + i, true) !== b.getInt32(bStart + i, true)) return false;
  for (; i < length; i++) if (a.getUint8(aStart + i) !== b.getUint8(bStart + i)) return false;
  return true;
}

/**
 * Byte strings → dense ids 0, 1, 2, … in order of first sight. The caller hashes the bytes with
 * `hashByte` while scanning them anyway; the table keeps a copy of each distinct key and compares
 * bytes on every hit, so a hash collision can only cost time, never merge two keys. Slots hold
 * (hash, id) side by side and an id's (hash, offset, length) too: on a 40 MB input the look-ups
 * are bound by cache misses, not by instructions.
 */
export class ByteInterner {
  private slots = NONE; // (hash, id + 1) pairs, id + 1 = 0: empty
  private meta = NONE; // (hash, offset, length) per id
  private arena = new Uint8Array(0);
  private view = viewOf(this.arena);
  private used = 0;
  size = 0;

  constructor() {
    // V8 compiles a field as a constant until its second store, and throws the optimized code away
    // when it changes later (a FieldConstnessDependency): storing every growable field twice here
    // keeps the hot loops from being deoptimized each time a table grows mid-input.
    this.slots = new Int32Array(2 * 1024);
    this.meta = new Int32Array(3 * 256);
    this.arena = new Uint8Array(1 << 16);
    this.view = viewOf(this.arena);
    this.used = -1;
    this.used = 0;
    this.size = -1;
    this.size = 0;
  }

  /** The id of `bytes[start, end)` (`view` is `viewOf(bytes)`), or -1. */
  find(bytes: DataView, start: number, end: number, hash: number): number {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[2 * slot + 1]!;
      if (entry === 0) return -1;
      if (slots[2 * slot] === hash && this.equals(entry - 1, bytes, start, end)) return entry - 1;
    }
  }

  /** True when key `id` is `bytes[start, end)`. */
  equals(id: number, bytes: DataView, start: number, end: number): boolean {
    const meta = this.meta;
    return meta[3 * id + 2] === end - start && equalRuns(this.view, meta[3 * id + 1]!, bytes, start, end - start);
  }

  /** When key `id` is the line at `start` (its bytes, then a line feed), the line feed's index; otherwise -1. */
  matchLine(id: number, bytes: DataView, start: number): number {
    const meta = this.meta;
    const end = start + meta[3 * id + 2]!;
    if (end >= bytes.byteLength || bytes.getUint8(end) !== 10) return -1;
    return equalRuns(this.view, meta[3 * id + 1]!, bytes, start, end - start) ? end : -1;
  }

  /** Adds `bytes[start, end)`, which `find` did not find, and returns its new id. */
  add(bytes: Uint8Array, start: number, end: number, hash: number): number {
    const id = this.size++;
    if (3 * id === this.meta.length) this.meta = grow(this.meta);
    const length = end - start;
    if (this.used + length > this.arena.length) {
      const arena = new Uint8Array(Math.max(this.arena.length * 2, this.used + length));
      arena.set(this.arena.subarray(0, this.used));
      this.arena = arena;
      this.view = viewOf(arena);
    }
    this.arena.set(bytes.subarray(start, end), this.used);
    this.meta[3 * id] = hash;
    this.meta[3 * id + 1] = this.used;
    this.meta[3 * id + 2] = length;
    this.used += length;
    if (this.size * 4 > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      for (let other = 0; other < this.size; other++) place(this.slots, this.meta[3 * other]!, other);
    } else {
      place(this.slots, hash, id);
    }
    return id;
  }
}

function place(slots: Int32Array, hash: number, id: number): void {
  const mask = (slots.length >> 1) - 1;
  let slot = hash & mask;
  while (slots[2 * slot + 1] !== 0) slot = (slot + 1) & mask;
  slots[2 * slot] = hash;
  slots[2 * slot + 1] = id + 1;
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}

const pairHash = (a: number, b: number): number => {
  const hash = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ (b >>> 15), 0x85ebca6b);
  return hash ^ (hash >>> 13);
};

/** Pairs of non-negative int32s → dense ids 0, 1, 2, … (trie edges, (thread, stack) keys). */
export class PairInterner {
  private slots = NONE; // (a, b, id + 1) triples
  private pairs = NONE; // (a, b) per id
  size = 0;

  constructor() {
    // Second stores: see ByteInterner.
    this.slots = new Int32Array(3 * 1024);
    this.pairs = new Int32Array(2 * 256);
    this.size = -1;
    this.size = 0;
  }

  /** The id of (a, b), added when new. */
  intern(a: number, b: number): number {
    const slots = this.slots;
    const mask = slots.length / 3 - 1;
    let slot = pairHash(a, b) & mask;
    for (;;) {
      const entry = slots[3 * slot + 2]!;
      if (entry === 0) break;
      if (slots[3 * slot] === a && slots[3 * slot + 1] === b) return entry - 1;
      slot = (slot + 1) & mask;
    }
    const id = this.size++;
    if (2 * id === this.pairs.length) this.pairs = grow(this.pairs);
    this.pairs[2 * id] = a;
    this.pairs[2 * id + 1] = b;
    if (this.size * 2 > slots.length / 3) this.rehash();
    else PairInterner.put(slots, slot, a, b, id);
    return id;
  }

  first(id: number): number {
    return this.pairs[2 * id]!;
  }

  second(id: number): number {
    return this.pairs[2 * id + 1]!;
  }

  private static put(slots: Int32Array, slot: number, a: number, b: number, id: number): void {
    slots[3 * slot] = a;
    slots[3 * slot + 1] = b;
    slots[3 * slot + 2] = id + 1;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length / 3 - 1;
    for (let id = 0; id < this.size; id++) {
      const a = this.pairs[2 * id]!;
      const b = this.pairs[2 * id + 1]!;
      let slot = pairHash(a, b) & mask;
      while (slots[3 * slot + 2] !== 0) slot = (slot + 1) & mask;
      PairInterner.put(slots, slot, a, b, id);
    }
    this.slots = slots;
  }
}

/** One step of the hash `IntSequenceInterner` keys by, over a sequence's values in order. */
export const hashInt = (hash: number, value: number): number => {
  const h = Math.imul(hash ^ value, 0x9e3779b1);
  return h ^ (h >>> 15);
};

/**
 * Sequences of int32s → dense ids, like `ByteInterner` for bytes: the caller hashes with
 * `hashInt` as it collects a sequence, and every hit compares the values.
 */
export class IntSequenceInterner {
  private slots = NONE; // (hash, id + 1) pairs
  private meta = NONE; // (hash, offset, length) per id
  private arena = NONE;
  private used = 0;
  size = 0;
  /** Whether the last `intern` added its sequence. */
  isNew = false;

  constructor() {
    // Second stores: see ByteInterner.
    this.slots = new Int32Array(2 * 1024);
    this.meta = new Int32Array(3 * 256);
    this.arena = new Int32Array(1 << 12);
    this.isNew = true;
    this.isNew = false;
    this.used = -1;
    this.used = 0;
    this.size = -1;
    this.size = 0;
  }

  /** The id of `values[0, length)`, added when new; `isNew` tells which. */
  intern(values: Int32Array, length: number, hash: number): number {
    const slots = this.slots;
    const mask = (slots.length >> 1) - 1;
    let slot = hash & mask;
    for (;;) {
      const entry = slots[2 * slot + 1]!;
      if (entry === 0) break;
      if (slots[2 * slot] === hash && this.equals(entry - 1, values, length)) {
        this.isNew = false;
        return entry - 1;
      }
      slot = (slot + 1) & mask;
    }
    this.isNew = true;
    const id = this.size++;
    if (3 * id === this.meta.length) this.meta = grow(this.meta);
    if (this.used + length > this.arena.length) {
      const arena = new Int32Array(Math.max(this.arena.length * 2, this.used + length));
      arena.set(this.arena.subarray(0, this.used));
      this.arena = arena;
    }
    this.arena.set(values.subarray(0, length), this.used);
    this.meta[3 * id] = hash;
    this.meta[3 * id + 1] = this.used;
    this.meta[3 * id + 2] = length;
    this.used += length;
    if (this.size * 4 > this.slots.length) {
      this.slots = new Int32Array(this.slots.length * 2);
      for (let other = 0; other < this.size; other++) place(this.slots, this.meta[3 * other]!, other);
    } else {
      place(slots, hash, id);
    }
    return id;
  }

  private equals(id: number, values: Int32Array, length: number): boolean {
    const meta = this.meta;
    if (meta[3 * id + 2] !== length) return false;
    const arena = this.arena;
    const offset = meta[3 * id + 1]!;
    let i = 0;
    while (i < length && arena[offset + i] === values[i]) i++;
    return i === length;
  }
}

/**
 * Per id, the bytes of one line, replaced at will. The perf parser keeps the last whole stack line
 * (indent and address included) each stack line id was read from: the same line coming again is
 * then found by one comparison from the line's start, without first scanning for where its
 * address ends. Each id's room only grows, so replacing a line costs no memory after the first.
 */
export class LineMemo {
  private slots = NONE; // (offset, length, room) per id; room 0: no line yet
  private arena = new Uint8Array(0);
  private view = viewOf(this.arena);
  private used = 0;

  constructor() {
    // Second stores: see ByteInterner.
    this.slots = new Int32Array(3 * 1024);
    this.arena = new Uint8Array(1 << 16);
    this.view = viewOf(this.arena);
    this.used = -1;
    this.used = 0;
  }

  /** When line `id` is the one at `start` (its bytes, then a line feed), the line feed's index; otherwise -1. */
  matchLine(id: number, bytes: DataView, start: number): number {
    const slots = this.slots;
    if (3 * id >= slots.length) return -1;
    const length = slots[3 * id + 1]!;
    const end = start + length;
    // No line yet reads as an empty one, and a stack line never starts with a line feed.
    if (end >= bytes.byteLength || bytes.getUint8(end) !== 10) return -1;
    return equalRuns(this.view, slots[3 * id]!, bytes, start, length) ? end : -1;
  }

  /** Whether `id` has a line. */
  has(id: number): boolean {
    return 3 * id < this.slots.length && this.slots[3 * id + 2]! > 0;
  }

  /** Makes `bytes[start, end)` the line of `id`. */
  set(id: number, bytes: Uint8Array, start: number, end: number): void {
    while (3 * id >= this.slots.length) this.slots = grow(this.slots);
    const slots = this.slots;
    const length = end - start;
    if (slots[3 * id + 2]! < length) {
      if (this.used + length > this.arena.length) {
        const arena = new Uint8Array(Math.max(this.arena.length * 2, this.used + length));
        arena.set(this.arena.subarray(0, this.used));
        this.arena = arena;
        this.view = viewOf(arena);
      }
      slots[3 * id] = this.used;
      slots[3 * id + 2] = length;
      this.used += length;
    }
    // A loop, not arena.set(bytes.subarray(…)): lines are short, and a subarray is an object each.
    const arena = this.arena;
    const offset = slots[3 * id]! - start;
    for (let i = start; i < end; i++) arena[offset + i] = bytes[i]!;
    slots[3 * id + 1] = length;
  }
}
