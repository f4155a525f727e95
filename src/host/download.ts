/**
 * HTTP downloads for debuginfod, written atomically (temporary file then rename) so a cache never
 * holds half a file.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export async function download(url: string, destination: string, timeoutMs: number): Promise<{ readonly ok: true } | { readonly ok: false; readonly missing: boolean; readonly reason: string }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    const name = (error as Error).name;
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ok: false, missing: false, reason: name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `unreachable (${cause ?? (error as Error).message})` };
  }
  if (response.status === 404) return { ok: false, missing: true, reason: 'not found' };
  if (!response.ok) return { ok: false, missing: response.status < 500, reason: `HTTP ${response.status}` };
  let body: Buffer;
  try {
    body = Buffer.from(await response.arrayBuffer());
  } catch (error) {
    return { ok: false, missing: false, reason: `download failed (${(error as Error).message})` };
  }
  const temporary = `${destination}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(destination), { recursive: true });
    writeFileSync(temporary, body);
    renameSync(temporary, destination);
  } catch (error) {
    rmSync(temporary, { force: true });
    return { ok: false, missing: false, reason: `cannot write the cache (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  return { ok: true };
}
