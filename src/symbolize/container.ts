/**
 * Which container a process runs in, from its cgroup path (`/proc/PID/cgroup`), for the optional
 * root frame that groups a system-wide profile by container (`--container`).
 *
 * The runtimes name their cgroups differently (cgroupfs vs the systemd driver, v1 vs v2):
 *   docker       /docker/<id>                      /system.slice/docker-<id>.scope
 *   containerd   /kubepods/…/pod<uid>/<id>          …/cri-containerd-<id>.scope
 *   cri-o        …/crio-<id>.scope
 *   podman       /machine.slice/libpod-<id>.scope   …/user@1000.service/user.slice/libpod-<id>.scope/container
 *   lxc          /lxc/<name>                        /lxc.payload.<name>
 *   nspawn       /machine.slice/systemd-nspawn@<name>.service/payload   /machine.slice/machine-<name>.scope
 * Reference: https://docs.docker.com/config/containers/runmetrics/#find-the-cgroup-for-a-given-container
 */

export interface Container {
  /** `docker`, `containerd`, `cri-o`, `podman`, `lxc`, `nspawn`, `kubepods`. */
  readonly runtime: string;
  /** A 64-hex id shortened to 12 characters (as `docker ps` shows it), or the container's name. */
  readonly id: string;
}

const SHORT_ID = 12;
const HEX_ID = '[0-9a-f]{64}';

// Most specific first: a containerd scope inside kubepods is a containerd container.
const PATTERNS: readonly [string, RegExp][] = [
  ['docker', new RegExp(`(?:^|/)docker[-/](${HEX_ID})(?:\\.scope)?(?:/|$)`)],
  ['containerd', new RegExp(`(?:^|/)cri-containerd-(${HEX_ID})\\.scope(?:/|$)`)],
  ['cri-o', new RegExp(`(?:^|/)crio-(?:conmon-)?(${HEX_ID})\\.scope(?:/|$)`)],
  ['podman', new RegExp(`(?:^|/)libpod-(?:conmon-)?(${HEX_ID})\\.scope(?:/|$)`)],
  // cgroupfs-driver kubelet: the container is the last component under the pod.
  ['kubepods', new RegExp(`(?:^|/)kubepods(?:/[^/]+)*/pod[0-9a-f_-]+/(${HEX_ID})(?:/|$)`)],
  ['lxc', /(?:^|\/)lxc(?:\.payload\.|\/)([^/]+)/],
  ['nspawn', /(?:^|\/)machine\.slice\/(?:systemd-nspawn@([^/]+)\.service|machine-([^/]+)\.scope)(?:\/|$)/],
];

/** The container of a cgroup path, or undefined for a process on the host. */
export function containerFromCgroup(cgroup: string): Container | undefined {
  for (const [runtime, pattern] of PATTERNS) {
    const match = pattern.exec(cgroup);
    if (!match) continue;
    const raw = match[1] ?? match[2]!;
    // systemd escapes `-` in unit names as `\x2d`.
    const id = /^[0-9a-f]{64}$/.test(raw) ? raw.slice(0, SHORT_ID) : raw.replace(/\\x2d/g, '-');
    return { runtime, id };
  }
  return undefined;
}

/** The root frame's name: `docker:3f4e5a6b7c8d`, `nspawn:web`. */
export function containerFrameName(container: Container): string {
  return `${container.runtime}:${container.id}`;
}

export interface ContainerOptions {
  /** Add the container as a root frame (kind `process`) above the process. Default false. */
  readonly containerFrame: boolean;
}

export const CONTAINER_DEFAULTS: ContainerOptions = Object.freeze({ containerFrame: false });

/** The root frame for a process's container, or undefined on the host or when the cgroup is unknown. */
export function containerFrame(cgroup: string | undefined): { readonly name: string; readonly kind: 'process' } | undefined {
  const container = cgroup === undefined ? undefined : containerFromCgroup(cgroup);
  return container && { name: containerFrameName(container), kind: 'process' };
}
