import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { isAlive } from '../src/file-lock';

/**
 * Separate hosts on this machine for tests and benchmarks of a fleet: one network namespace per
 * host (its own interfaces, addresses and ports), all plugged into a bridge that lives in a
 * namespace of its own, like machines on one switch. The calling process (the test) gets a
 * port on the switch too, so it can reach every host as an operator would. Addresses come from
 * 198.18.0.0/15, the range RFC 2544 reserves for benchmark networks: no traffic reaches a real
 * network. Needs root (CAP_SYS_ADMIN, CAP_NET_ADMIN) and iproute2's `ip`.
 */

const run = promisify(execFile);

export interface Host {
  name: string;
  /** The namespace name, for `ip netns exec`. */
  netns: string;
  address: string;
  /** The command that runs `argv` on this host: `ip netns exec <netns> ...argv`. */
  command(argv: string[]): string[];
}

export interface VirtualNetwork {
  hosts: Record<string, Host>;
  /** This process's address on the switch. */
  operatorAddress: string;
  /** The host drops off the network (its link goes down) and every process on it is SIGKILLed. */
  cut(host: Host): Promise<void>;
  /** Kills whatever still runs on the hosts and deletes the namespaces; safe to call twice. */
  destroy(): Promise<void>;
}

const PREFIX = 'evsys';

/** Every namespace of this process is deleted when it exits, even after a failed test. */
const ours = new Set<string>();
process.once('exit', () => {
  for (const netns of ours) deleteNamespaceSync(netns);
});

/** Network namespaces need root; as root, a missing `ip` is an error (createVirtualNetwork says how to install it). */
export function canCreateHosts(): { ok: true } | { ok: false; reason: string } {
  return process.getuid?.() === 0 ? { ok: true } : { ok: false, reason: 'network namespaces need root' };
}

function requireIp(): void {
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    throw new Error('iproute2 (`ip`) is not installed: apt-get install -y iproute2');
  }
}

/**
 * Creates the hosts, named as given (short names: they end up in interface names). Namespaces
 * are named `evsys<pid>-<host>`, so runs side by side do not collide and the namespaces of a run
 * that died without cleaning up are deleted by the next one.
 */
export async function createVirtualNetwork(names: string[]): Promise<VirtualNetwork> {
  requireIp();
  await deleteNamespacesOfDeadRuns();
  const tag = `${PREFIX}${process.pid}`;
  const subnet = await freeSubnet();
  const switchNs = `${tag}-switch`;
  const created: string[] = [];
  const ip = (...args: string[]) => run('ip', args);
  const addNamespace = async (netns: string) => {
    await ip('netns', 'add', netns);
    created.push(netns);
    ours.add(netns);
    await ip('-n', netns, 'link', 'set', 'lo', 'up');
  };
  const network: VirtualNetwork = {
    hosts: {},
    operatorAddress: `${subnet}.1`,
    async cut(host) {
      await ip('-n', host.netns, 'link', 'set', 'eth0', 'down');
      await killProcessesIn(host.netns);
    },
    async destroy() {
      for (const netns of created.splice(0).reverse()) {
        await killProcessesIn(netns);
        await ip('netns', 'delete', netns).catch(() => undefined);
        ours.delete(netns);
      }
    },
  };
  try {
    await addNamespace(switchNs);
    await ip('-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', switchNs, 'link', 'set', 'br0', 'up');
    // The veth pair's ends are made here with names unique to this run, then moved.
    const plug = async (end: string, switchEnd: string) => {
      await ip('link', 'add', end, 'type', 'veth', 'peer', 'name', switchEnd);
      await ip('link', 'set', switchEnd, 'netns', switchNs);
      await ip('-n', switchNs, 'link', 'set', switchEnd, 'master', 'br0', 'up');
    };
    const short = process.pid.toString(36);
    // The operator's port: its far end is in the switch namespace, so deleting that removes it.
    const operatorEnd = `ev${short}op`;
    await plug(operatorEnd, `ev${short}sop`);
    await ip('addr', 'add', `${network.operatorAddress}/24`, 'dev', operatorEnd);
    await ip('link', 'set', operatorEnd, 'up');
    for (const [i, name] of names.entries()) {
      const netns = `${tag}-${name}`;
      await addNamespace(netns);
      const end = `ev${short}h${i}`;
      await plug(end, `ev${short}s${i}`);
      await ip('link', 'set', end, 'netns', netns);
      await ip('-n', netns, 'link', 'set', end, 'name', 'eth0');
      const address = `${subnet}.${10 + i}`;
      await ip('-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      await ip('-n', netns, 'link', 'set', 'eth0', 'up');
      network.hosts[name] = { name, netns, address, command: (argv) => ['ip', 'netns', 'exec', netns, ...argv] };
    }
    return network;
  } catch (err) {
    await network.destroy();
    throw err;
  }
}

async function killProcessesIn(netns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', netns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function deleteNamespaceSync(netns: string): void {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean);
    for (const pid of pids) process.kill(Number(pid), 'SIGKILL');
    execFileSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
  } catch {
    // best effort at exit
  }
}

/** Namespaces `evsys<pid>-*` whose pid no longer runs: left by a run that was killed. */
async function deleteNamespacesOfDeadRuns(): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const netns = line.split(' ')[0];
    const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(netns)?.[1];
    if (!pid || isAlive(Number(pid))) continue;
    await killProcessesIn(netns);
    await run('ip', ['netns', 'delete', netns]).catch(() => undefined);
  }
}

/** A /24 of 198.18.0.0/15 that no route of this machine uses (other runs take theirs too). */
async function freeSubnet(): Promise<string> {
  const { stdout } = await run('ip', ['-4', 'route', 'show']);
  for (let attempt = 0; attempt < 100; attempt++) {
    const candidate = `198.${18 + Math.floor(Math.random() * 2)}.${Math.floor(Math.random() * 256)}`;
    if (!stdout.includes(`${candidate}.`)) return candidate;
  }
  throw new Error('no free /24 in 198.18.0.0/15');
}
