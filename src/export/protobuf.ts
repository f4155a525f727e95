/**
 * The few protocol buffer encodings a pprof message needs (varints, length-delimited fields,
 * packed repeated varints), written straight into one growing buffer: the agent encodes a
 * profile per service every interval, and building a message object per sample, location and
 * label first cost it more than the naming did.
 *
 * Reference: https://protobuf.dev/programming-guides/encoding/
 */

const VARINT = 0;
const LENGTH_DELIMITED = 2;

export class ProtoWriter {
  private buffer = Buffer.allocUnsafe(1 << 16);
  private position = 0;

  /** The bytes written so far (a view of the writer's buffer). */
  finish(): Uint8Array {
    return this.buffer.subarray(0, this.position);
  }

  /** A varint field; zero is the default and is left out, as proto3 does. */
  uint(field: number, value: number): void {
    if (value === 0) return;
    this.key(field, VARINT);
    this.varint(value);
  }

  /** A varint field of a value that may pass 2^53 (nanosecond times). */
  bigUint(field: number, value: bigint): void {
    if (value === 0n) return;
    this.key(field, VARINT);
    this.bigVarint(value);
  }

  /** Bytes already encoded (fields of the same message), as they are. */
  rawBytes(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }

  /** A bare varint of a whole number below 2^53 (inside a packed field). */
  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v >= 0x80) {
      this.buffer[this.position++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[this.position++] = v;
  }

  /** A bare varint of any 64-bit value. */
  bigVarint(value: bigint): void {
    this.ensure(10);
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.buffer[this.position++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buffer[this.position++] = Number(v);
  }

  string(field: number, text: string): void {
    this.key(field, LENGTH_DELIMITED);
    const length = Buffer.byteLength(text);
    this.varint(length);
    this.ensure(length);
    this.position += this.buffer.write(text, this.position, 'utf8');
  }

  /** A packed repeated varint field (left out when empty). */
  packed(field: number, values: ArrayLike<number>): void {
    if (values.length === 0) return;
    this.message(field, () => {
      for (let i = 0; i < values.length; i++) this.varint(values[i]!);
    });
  }

  /** A length-delimited field whose content `write` puts in. */
  message(field: number, write: () => void): void {
    this.key(field, LENGTH_DELIMITED);
    // Most messages are shorter than 128 bytes: one byte is kept for the length, and the content
    // moved along when its length needs more.
    this.ensure(1);
    const at = this.position++;
    write();
    const length = this.position - at - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.ensure(size - 1);
      this.buffer.copyWithin(at + size, at + 1, this.position);
      this.position += size - 1;
    }
    let v = length;
    let p = at;
    while (v >= 0x80) {
      this.buffer[p++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buffer[p] = v;
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(grown, 0, 0, this.position);
    this.buffer = grown;
  }
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
}
