/**
 * REDIS_URL, read: one Redis server (`redis://`, `rediss://` for TLS), or a Redis Cluster given by
 * one or more of its nodes (`redis+cluster://[user:pass@]host:port[,host:port...]`,
 * `rediss+cluster://` for TLS). The client finds the other nodes from any one it reaches, so
 * several seeds only matter at start, when one of them may be down.
 */
export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTarget =
  | { cluster: false; url: string }
  | { cluster: true; nodes: RedisNode[]; username?: string; password?: string; tls: boolean };

export const REDIS_URL_FORMS = 'a redis:// or rediss:// URL, or redis+cluster:// (rediss+cluster://) with the nodes of a Redis Cluster';

/**
 * What is wrong with the path of a Redis URL, or null: `redis://host:port[/db]`, where ioredis
 * takes the path as the database number (and anything but digits as NaN).
 */
export function redisDatabaseProblem(pathname: string): string | null {
  return /^\/?(\d{1,5})?$/.test(pathname) ? null : `must name its database as a number (redis://host:port/0), got ${JSON.stringify(pathname)}`;
}

/** Thrown by redisTarget: "REDIS_URL <reason>". */
export class RedisUrlError extends Error {
  constructor(readonly reason: string) {
    super(`REDIS_URL ${reason}`);
  }
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/?#]*)@)?([^/?#]*)(\/[^?#]*)?([?#].*)?$/i;
const NODE = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9](?:[a-z0-9._-]*[a-z0-9])?))(?::(\d{1,5}))?$/i;

/** Reads REDIS_URL, or throws a RedisUrlError saying what is wrong with it. */
export function redisTarget(url: string): RedisTarget {
  const cluster = CLUSTER_URL.exec(url.trim());
  if (cluster) return clusterTarget(cluster);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUrlError(`must be ${REDIS_URL_FORMS}`);
  }
  if (!['redis:', 'rediss:'].includes(parsed.protocol)) throw new RedisUrlError(`must be ${REDIS_URL_FORMS}`);
  const problem = redisDatabaseProblem(parsed.pathname);
  if (problem) throw new RedisUrlError(problem);
  return { cluster: false, url };
}

function clusterTarget([, scheme, userinfo, hosts, path, rest]: RegExpExecArray): RedisTarget {
  if ((path && path !== '/') || rest) {
    throw new RedisUrlError('must not name a database, query or fragment with redis+cluster:// (a Redis Cluster has database 0 only)');
  }
  const nodes = hosts.split(',').map((text) => {
    const match = NODE.exec(text.trim());
    const port = Number(match?.[3] ?? 6379);
    if (!match || port < 1 || port > 65535) {
      throw new RedisUrlError(`must list the cluster's nodes as host:port separated by commas, got ${JSON.stringify(text)}`);
    }
    return { host: match[1] ?? match[2], port };
  });
  const [username, password] = userinfo === undefined ? [] : splitUserinfo(userinfo);
  return { cluster: true, nodes, username: username || undefined, password: password || undefined, tls: scheme.toLowerCase() === 'rediss' };
}

function splitUserinfo(userinfo: string): [string, string | undefined] {
  const colon = userinfo.indexOf(':');
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new RedisUrlError('has credentials that are not URL-encoded');
    }
  };
  return colon < 0 ? [decode(userinfo), undefined] : [decode(userinfo.slice(0, colon)), decode(userinfo.slice(colon + 1))];
}

/**
 * The hash tag of a key by Redis Cluster's rule, or null: the text between the first `{` and the
 * first `}` after it, when that text is not empty. A key with a tag lives in the slot of its tag.
 * A prefix that holds a whole tag gives that tag to every key that starts with it, whatever follows
 * (a later `{` or `}`, say in a job id, is never looked at), so all of a queue's keys share one slot.
 */
export function hashTag(key: string): string | null {
  const open = key.indexOf('{');
  if (open < 0) return null;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : null;
}
