/**
 * ELF fixtures for the symbolizer, built by the test setup from fixtures/elf/*.c into the
 * gitignored fixtures/build/: PIE and non-PIE programs with a shared library (gcc and clang),
 * a stripped program whose debug file is found by build-id, one found by .gnu_debuglink (built
 * without build-id so the CRC decides), and deliberately wrong debug files.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCES = join(import.meta.dirname, '..', '..', 'fixtures', 'elf');
const BUILD = join(import.meta.dirname, '..', '..', 'fixtures', 'build');

export interface ElfFixtures {
  readonly dir: string;
  /** Directory to pass as `debugDirectories` (holds `.build-id/`). */
  readonly debugDir: string;
  path(name: string): string;
  cleanup(): void;
}

export function buildIdOf(path: string): string {
  const out = execFileSync('readelf', ['-n', path], { encoding: 'utf8' });
  return /Build ID: ([0-9a-f]+)/.exec(out)![1]!;
}

export function buildFixtures(compilers: readonly string[]): ElfFixtures {
  mkdirSync(BUILD, { recursive: true });
  const dir = mkdtempSync(join(BUILD, 'elf-'));
  const debugDir = join(dir, 'debug');
  const run = (cmd: string, ...args: string[]): void => void execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });
  // clang emits no .debug_aranges by default, and eu-addr2line (the oracle) then finds no
  // line at all; the symbolizer copes without it (checked on libnoaranges.so).
  run('clang-14', '-O2', '-g', '-shared', '-fPIC', '-o', 'libnoaranges.so', join(SOURCES, 'lib.c'));
  for (const cc of compilers) {
    const lib = `lib${cc}fixture.so`;
    const g = cc.startsWith('clang') ? ['-g', '-gdwarf-aranges'] : ['-g'];
    run(cc, '-O2', ...g, '-shared', '-fPIC', '-o', lib, join(SOURCES, 'lib.c'));
    const link = ['-L.', `-l${cc}fixture`, `-Wl,-rpath,${dir}`];
    run(cc, '-O2', ...g, '-fPIE', '-pie', '-o', `${cc}-pie`, join(SOURCES, 'prog.c'), ...link);
    run(cc, '-O2', ...g, '-fno-pie', '-no-pie', '-o', `${cc}-nopie`, join(SOURCES, 'prog.c'), ...link);
  }
  const cc = compilers[0]!;
  // Stripped, debug file by build-id.
  copyFileSync(join(dir, `${cc}-pie`), join(dir, 'stripped'));
  run('objcopy', '--only-keep-debug', 'stripped', 'stripped.debug');
  run('strip', '--strip-all', 'stripped');
  const id = buildIdOf(join(dir, 'stripped'));
  mkdirSync(join(debugDir, '.build-id', id.slice(0, 2)), { recursive: true });
  copyFileSync(join(dir, 'stripped.debug'), join(debugDir, '.build-id', id.slice(0, 2), `${id.slice(2)}.debug`));
  // Debuglink without build-id: only the CRC can tell the right file.
  const link = ['-L.', `-l${cc}fixture`, `-Wl,-rpath,${dir}`];
  run(cc, '-O2', '-g', '-fPIE', '-pie', '-Wl,--build-id=none', '-o', 'linked', join(SOURCES, 'prog.c'), ...link);
  mkdirSync(join(dir, '.debug'), { recursive: true });
  run('objcopy', '--only-keep-debug', 'linked', '.debug/linked.debug');
  run('strip', '--strip-all', 'linked');
  run('objcopy', '--add-gnu-debuglink=.debug/linked.debug', 'linked');
  // A build-id whose debug file belongs to another build, and a debuglink whose CRC is wrong.
  writeFileSync(join(dir, 'other.c'), readFileSync(join(SOURCES, 'prog.c'), 'utf8').replace('return outer_inline(x) + 1;', 'return outer_inline(x) + 2;'));
  run(cc, '-O2', '-g', '-fPIE', '-pie', '-o', 'other', 'other.c', ...link);
  copyFileSync(join(dir, `${cc}-pie`), join(dir, 'mismatched'));
  run('strip', '--strip-all', 'mismatched');
  run('objcopy', '--remove-section=.note.gnu.build-id', 'mismatched');
  run('objcopy', '--only-keep-debug', 'other', 'other.debug');
  // objcopy records the CRC of the file it links to; replacing the file afterwards breaks it.
  run('objcopy', '--only-keep-debug', `${cc}-pie`, '.debug/badcrc.debug');
  copyFileSync(join(dir, 'mismatched'), join(dir, 'badcrc'));
  run('objcopy', '--add-gnu-debuglink=.debug/badcrc.debug', 'badcrc');
  copyFileSync(join(dir, 'other.debug'), join(dir, '.debug', 'badcrc.debug'));
  // Its own build (-O1), so its build-id is not the one `stripped` shares with ${cc}-pie.
  const strippedOther = join(dir, 'wrongid');
  run(cc, '-O1', '-g', '-fPIE', '-pie', '-o', 'wrongid', join(SOURCES, 'prog.c'), ...link);
  run('strip', '--strip-all', 'wrongid');
  const wrongId = buildIdOf(strippedOther);
  mkdirSync(join(debugDir, '.build-id', wrongId.slice(0, 2)), { recursive: true });
  // The file at wrongid's build-id path is other's debug file (a different build-id inside).
  copyFileSync(join(dir, 'other.debug'), join(debugDir, '.build-id', wrongId.slice(0, 2), `${wrongId.slice(2)}.debug`));
  // Only a debuginfod server has this one's debug file.
  mkdirSync(join(dir, 'served'), { recursive: true });
  run(cc, '-O3', '-g', '-fPIE', '-pie', '-o', 'remote', join(SOURCES, 'prog.c'), ...link);
  run('objcopy', '--only-keep-debug', 'remote', 'served/remote.debug');
  run('strip', '--strip-all', 'remote');
  return { dir, debugDir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface LiveFixture {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Function addresses the program printed (runtime addresses). */
  readonly addresses: Readonly<Record<string, bigint>>;
  stop(): void;
}

/** Starts a fixture program that prints its function addresses and waits. */
export async function startFixture(path: string): Promise<LiveFixture> {
  const child = spawn(path, ['wait'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const text = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += String(d);
      if (out.includes('main ')) resolve(out);
    });
    child.once('error', reject);
    child.once('exit', () => reject(new Error(`${path} exited early`)));
  });
  const addresses: Record<string, bigint> = {};
  for (const line of text.trim().split('\n')) {
    const [name, value] = line.split(' ');
    addresses[name!] = BigInt(value!);
  }
  return { child, pid: child.pid!, addresses, stop: () => void child.kill('SIGKILL') };
}

/**
 * `eu-addr2line -f -i` for many addresses of one file, in one run: per address, its frames root
 * first as `name@file:line`. Address 0 (`??`) separates the answers, since an inline chain's
 * length is not otherwise visible in the output.
 */
export function euAddr2line(file: string, vaddrs: readonly number[]): string[][] {
  const args = vaddrs.flatMap((a) => [`0x${a.toString(16)}`, '0x0']);
  // It exits with 1 when any address (here every separator) has no answer.
  const lines = spawnSync('eu-addr2line', ['-f', '-i', '-e', file, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout.split('\n');
  const result: string[][] = [];
  let frames: string[] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const name = lines[i]!;
    const where = lines[i + 1]!;
    if (name === '??' && /^\?\?:0$/.test(where)) {
      result.push(frames.reverse());
      frames = [];
      continue;
    }
    const m = /^(.*?):(\d+)(?::\d+)?$/.exec(where);
    frames.push(`${name.replace(/ inlined at .*$/, '')}@${m ? `${m[1]}:${m[2]}` : '??'}`);
  }
  return result;
}
