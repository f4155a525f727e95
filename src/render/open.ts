import { spawn } from 'node:child_process';

export interface OpenResult {
  /** True when a browser was asked to open the file (it may still fail later, on its own). */
  readonly launched: boolean;
  /** What was told to the user. */
  readonly message: string;
}

function hasDesktop(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

/**
 * Opens `path` in the user's browser through xdg-open, and always says where the file is:
 * without a desktop (a server, an SSH session) nothing can be opened, and xdg-open may succeed
 * without showing anything. Under sudo the browser is started as the invoking user, since
 * browsers refuse to run as root with their sandbox on.
 */
export async function openInBrowser(path: string, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`), env: NodeJS.ProcessEnv = process.env): Promise<OpenResult> {
  if (!hasDesktop(env)) {
    const message = `profile: no desktop to open a browser on; the report is at ${path}`;
    log(message);
    return { launched: false, message };
  }
  const asUser = process.getuid?.() === 0 && env.SUDO_USER && env.SUDO_USER !== 'root' ? env.SUDO_USER : undefined;
  const [command, args] = asUser ? ['runuser', ['-u', asUser, '--', 'xdg-open', path]] : ['xdg-open', [path]];
  const launched = await new Promise<boolean>((resolve) => {
    const child = spawn(command, args, { detached: true, stdio: 'ignore', env });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
  const message = launched ? `profile: opening ${path} in your browser` : `profile: cannot run xdg-open; open ${path} in a browser`;
  log(message);
  return { launched, message };
}
