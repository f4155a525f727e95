// C++ and Rust names from real binaries built here, checked against c++filt (binutils).
// Takes ~3 s (g++ and two rustc builds).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { demanglerFor, IDENTITY_DEMANGLER, isMangled, loadDemangler } from '../../src/symbolize/demangle.js';
import { requiresTools } from '../helpers/requires.js';
import { ROOT } from '../helpers/cli.js';

const FIXTURES = join(ROOT, 'fixtures', 'demangle');

function symbols(binary: string, prefix: RegExp): string[] {
  const names = execFileSync('nm', [binary], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.split(' ')[2] ?? '')
    .filter((name) => prefix.test(name));
  return [...new Set(names)];
}

function cxxfilt(names: readonly string[]): string[] {
  return execFileSync('c++filt', { input: names.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20 }).trimEnd().split('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'profile-demangle-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('plain names, JIT names and the identity demangler are left alone', async (t) => {
  const d = await loadDemangler();
  for (const name of ['main', 'JS:~foo /a.js:1:2', 'Builtin:ArrayMap', '[unknown]', '_start', '_Znope']) {
    t.equal(d.demangle(name), name);
  }
  t.equal(IDENTITY_DEMANGLER.demangle('_ZN3foo3barEv'), '_ZN3foo3barEv');
  t.ok(isMangled('_ZN3foo3barEv') && isMangled('_RNvC5crate3foo') && isMangled('__Z3fooi'));
  t.notOk(isMangled('main') || isMangled('Z3foo'));
  t.equal(await loadDemangler(), d, 'loaded once');
  t.equal(await demanglerFor({}), d, 'on by default');
  t.equal(await demanglerFor({ demangle: false }), IDENTITY_DEMANGLER, '--no-demangle');
});

t.test('suffixes and names no demangler accepts', async (t) => {
  const d = await loadDemangler();
  t.equal(d.demangle('_ZN3foo3barEv.llvm.1234567'), 'foo::bar()');
  t.equal(d.demangle('_Z3fooi.cold'), 'foo(int) [clone .cold]');
  // cpp_demangle rejects this SFINAE template (c++filt does not) and returns it without its
  // underscore; the mangled name is kept instead.
  const sfinae = '_ZN2v84base17PrintCheckOperandIPKcEENSt9enable_ifIXaaaantsrSt11is_functionINSt14remove_pointerIT_E4typeEE5valuentsrSt7is_enumIS6_EE5valuentsr11has_output_operatorIS6_EE5valueENSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEEE4typeES6_';
  t.equal(d.demangle(sfinae), sfinae);
});

t.test('C++ templates built with g++ match c++filt', async (t) => {
  if (!requiresTools(t, 'g++', 'nm', 'c++filt')) return;
  const binary = join(dir, 'templates');
  execFileSync('g++', ['-O0', '-o', binary, join(FIXTURES, 'templates.cpp')]);
  const names = symbols(binary, /^_Z/);
  const expected = cxxfilt(names);
  const d = await loadDemangler();
  const own = new Map(names.map((name) => [d.demangle(name), name]));
  for (const wanted of [
    'run(int)',
    'shapes::overloaded(long)',
    'shapes::Grid<double, 4>::operator+=(shapes::Grid<double, 4> const&)',
    'shapes::Grid<int, 2>::sum() const',
    'run(int)::{lambda(int)#1}::operator()(int) const',
  ]) {
    t.ok(own.has(wanted), wanted);
  }
  let same = 0;
  let left = 0;
  const wrong: string[] = [];
  names.forEach((name, i) => {
    const ours = d.demangle(name);
    const theirs = expected[i]!;
    if (ours === theirs) same++;
    // Accepted differences: the return type of a template function is not printed, a templated
    // constructor's parameters are dropped (cpp_demangle gets them wrong), and a name cpp_demangle
    // rejects stays mangled. Never a different name.
    else if (ours === name) left++;
    else if (!(theirs.endsWith(` ${ours}`) || theirs.startsWith(`${ours}(`) || theirs.includes(ours.slice(0, ours.lastIndexOf('('))))) wrong.push(`${name}: ${ours} ≠ ${theirs}`);
  });
  t.same(wrong, [], 'every name equals c++filt up to an omitted return type or dropped constructor parameters');
  t.ok(same / names.length > 0.7, `${same}/${names.length} identical to c++filt`);
  t.ok(left <= 2, `${left} left mangled`);
});

for (const [mangling, prefix] of [['legacy', /^_ZN/], ['v0', /^_R/]] as const) {
  t.test(`Rust ${mangling} mangling from rustc matches c++filt`, async (t) => {
    if (!requiresTools(t, 'rustc', 'nm', 'c++filt')) return;
    const binary = join(dir, `names-${mangling}`);
    // opt-level=0 keeps the small generic functions from being inlined away.
    // Legacy is rustc's default (naming it needs -Z unstable-options).
    const version = mangling === 'v0' ? ['-C', 'symbol-mangling-version=v0'] : [];
    execFileSync('rustc', ['-C', 'opt-level=0', ...version, '-o', binary, join(FIXTURES, 'names.rs')], { stdio: 'pipe' });
    const names = symbols(binary, prefix);
    t.ok(names.length > 50, `${names.length} ${mangling} names`);
    const d = await loadDemangler();
    const ours = names.map((name) => d.demangle(name));
    for (const wanted of ['names::count_words', 'names::main']) t.ok(ours.includes(wanted), wanted);
    if (mangling === 'v0') {
      t.ok(ours.includes('<names::geometry::Point<f64> as names::geometry::Area>::area'), 'trait impl');
      t.ok(ours.includes('<names::geometry::Point<u32>>::sum'), 'generic impl');
    } else {
      t.ok(ours.includes('<names::geometry::Point<f64> as names::geometry::Area>::area'), 'trait impl');
      t.ok(ours.includes('names::geometry::Point<T>::sum'), 'generic impl');
    }
    // c++filt keeps the legacy hash (`::h0123…`) and v0 crate disambiguators (`std[e282…]`),
    // which the Firefox Profiler's demangler leaves out on purpose.
    const expected = cxxfilt(names).map((n) => n.replace(/::h[0-9a-f]{16}$/, '').replace(/\[[0-9a-f]+\]/g, ''));
    const same = ours.filter((n, i) => n === expected[i]).length;
    t.ok(ours.every((n, i) => n !== names[i]), 'every name demangled');
    t.ok(same / names.length >= 0.95, `${same}/${names.length} equal to c++filt without hashes`);
  });
}
