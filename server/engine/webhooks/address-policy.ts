import ipaddr from "ipaddr.js";
import type { FieldIssue } from "../core/errors";

/**
 * SSRF rules for webhook URLs: a webhook must not be a way to make Eventloom call into its own
 * network (a database, a cloud metadata service at 169.254.169.254, an admin port on localhost).
 * Every address a URL's host resolves to is checked, at create/update and again on every
 * connection the sender makes (DNS can change between the two: rebinding).
 *
 * Blocked: every range that is not publicly routable unicast: private, loopback, link-local,
 * CGNAT, unspecified, broadcast, multicast, reserved, documentation, benchmarking, ULA, and IPv6
 * outside 2000::/3. IPv6 forms that carry an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4,
 * Teredo) are judged by that address, so `::ffff:127.0.0.1` or `64:ff9b::7f00:1` get no further
 * than `127.0.0.1`. An explicit allow-list (`WEBHOOK_ALLOWED_HOSTS`) lets tests and local
 * development reach 127.0.0.1.
 */

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

interface NamedRange {
  cidr: Cidr;
  text: string;
  name: string;
}

interface EmbeddingRange extends NamedRange {
  /** The IPv4 address(es) inside, which decide. */
  embedded(address: ipaddr.IPv6): ipaddr.IPv4[];
}

function range(text: string, name: string): NamedRange {
  return { cidr: ipaddr.parseCIDR(text), text, name };
}

const BLOCKED_IPV4: readonly NamedRange[] = [
  range("0.0.0.0/8", "this network / unspecified"),
  range("10.0.0.0/8", "private"),
  range("100.64.0.0/10", "carrier-grade NAT"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.0.0/16", "link-local"),
  range("172.16.0.0/12", "private"),
  range("192.0.0.0/24", "IETF protocol assignments"),
  range("192.0.2.0/24", "documentation"),
  range("192.88.99.0/24", "6to4 relay anycast (deprecated)"),
  range("192.168.0.0/16", "private"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation"),
  range("203.0.113.0/24", "documentation"),
  range("224.0.0.0/4", "multicast"),
  // Before 240/4, which contains it, so the message names it.
  range("255.255.255.255/32", "broadcast"),
  range("240.0.0.0/4", "reserved"),
];

const lastFourBytes = (address: ipaddr.IPv6): ipaddr.IPv4 => ipv4From(address.parts[6]!, address.parts[7]!);

/** Checked before {@link BLOCKED_IPV6}: several of these lie inside ranges listed there (::/96 holds ::1). */
const EMBEDDING_IPV6: readonly EmbeddingRange[] = [
  { ...range("::ffff:0:0/96", "IPv4-mapped"), embedded: (address) => [lastFourBytes(address)] },
  { ...range("::ffff:0:0:0/96", "IPv4-translated (SIIT)"), embedded: (address) => [lastFourBytes(address)] },
  { ...range("64:ff9b::/96", "NAT64"), embedded: (address) => [lastFourBytes(address)] },
  { ...range("2002::/16", "6to4"), embedded: (address) => [ipv4From(address.parts[1]!, address.parts[2]!)] },
  {
    // RFC 4380: the server's address in clear, the client's (where packets end up) inverted.
    ...range("2001::/32", "Teredo"),
    embedded: (address) => [ipv4From(address.parts[2]!, address.parts[3]!), ipv4From(~address.parts[6]! & 0xffff, ~address.parts[7]! & 0xffff)],
  },
];

const BLOCKED_IPV6: readonly NamedRange[] = [
  range("::/128", "unspecified"),
  range("::1/128", "loopback"),
  // Deprecated IPv4-compatible form: judged by its IPv4 part, except :: and ::1 above.
  range("::/96", "IPv4-compatible"),
  range("64:ff9b:1::/48", "local-use NAT64"),
  range("100::/64", "discard-only"),
  range("2001:2::/48", "benchmarking"),
  range("2001::/23", "IETF protocol assignments"),
  range("2001:db8::/32", "documentation"),
  range("3fff::/20", "documentation"),
  range("5f00::/16", "segment routing (SRv6)"),
  range("fc00::/7", "unique local (ULA)"),
  range("fe80::/10", "link-local"),
  range("fec0::/10", "site-local (deprecated)"),
  range("ff00::/8", "multicast"),
];

/** Everything routable on the IPv6 internet lies in here; the rest is reserved by IANA. */
const IPV6_GLOBAL_UNICAST = range("2000::/3", "global unicast");
const IPV4_COMPATIBLE = BLOCKED_IPV6.find((entry) => entry.text === "::/96") as NamedRange;

export interface AddressVerdict {
  blocked: boolean;
  /** Why, when blocked: the range and its kind, e.g. `127.0.0.0/8 (loopback)`. */
  range?: string;
}

/** Whether an IP address (any notation ipaddr.js reads, an IPv6 zone id allowed) is off limits. */
export function isBlockedAddress(ip: string): AddressVerdict {
  let address: Address;
  try {
    address = ipaddr.parse(ip);
  } catch {
    return { blocked: true, range: "not an IP address" };
  }
  return address.kind() === "ipv4" ? ipv4Verdict(address as ipaddr.IPv4) : ipv6Verdict(address as ipaddr.IPv6);
}

function ipv4Verdict(address: ipaddr.IPv4): AddressVerdict {
  const hit = BLOCKED_IPV4.find((entry) => address.match(entry.cidr));
  return hit ? { blocked: true, range: describe(hit) } : { blocked: false };
}

function ipv6Verdict(address: ipaddr.IPv6): AddressVerdict {
  for (const entry of EMBEDDING_IPV6) {
    if (!address.match(entry.cidr)) continue;
    for (const inner of entry.embedded(address)) {
      const verdict = ipv4Verdict(inner);
      if (verdict.blocked) return { blocked: true, range: `${describe(entry)} carrying ${inner.toString()} in ${verdict.range}` };
    }
    return { blocked: false };
  }
  const hit = BLOCKED_IPV6.find((entry) => address.match(entry.cidr));
  if (hit === IPV4_COMPATIBLE) {
    const inner = lastFourBytes(address);
    const verdict = ipv4Verdict(inner);
    return verdict.blocked ? { blocked: true, range: `${describe(hit)} carrying ${inner.toString()} in ${verdict.range}` } : { blocked: false };
  }
  if (hit) return { blocked: true, range: describe(hit) };
  if (!address.match(IPV6_GLOBAL_UNICAST.cidr)) return { blocked: true, range: "outside 2000::/3 (reserved)" };
  return { blocked: false };
}

function describe(entry: NamedRange): string {
  return `${entry.text} (${entry.name})`;
}

function ipv4From(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** Host names (lower case, exact) and address ranges a deployment trusts despite the rules above. */
export interface AllowList {
  readonly hosts: ReadonlySet<string>;
  readonly ranges: readonly Cidr[];
}

const HOST_NAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/**
 * Reads `WEBHOOK_ALLOWED_HOSTS`: comma-separated host names (`localhost`), IP addresses
 * (`127.0.0.1`, `::1`, `[::1]`) and CIDR ranges (`10.1.0.0/16`). A malformed entry throws: a typo
 * in this setting should stop the start, not silently allow nothing (or everything).
 */
export function parseAllowList(value: string): AllowList {
  const hosts = new Set<string>();
  const ranges: Cidr[] = [];
  for (const raw of value.split(",")) {
    const entry = unbracket(raw.trim().toLowerCase());
    if (entry === "") continue;
    if (entry.includes("/")) {
      if (!ipaddr.isValidCIDR(entry)) throw new RangeError(`WEBHOOK_ALLOWED_HOSTS: ${JSON.stringify(raw.trim())} is not a valid CIDR range`);
      const [network, bits] = ipaddr.parseCIDR(entry);
      ranges.push([comparable(network), bits]);
    } else if (ipaddr.isValid(entry)) {
      const address = comparable(ipaddr.parse(entry));
      ranges.push([address, address.kind() === "ipv4" ? 32 : 128]);
    } else if (HOST_NAME.test(withoutTrailingDot(entry))) {
      hosts.add(withoutTrailingDot(entry));
    } else {
      throw new RangeError(`WEBHOOK_ALLOWED_HOSTS: ${JSON.stringify(raw.trim())} is neither a host name, an IP address nor a CIDR range`);
    }
  }
  return { hosts, ranges };
}

export type AddressCheck = { allowed: true } | { allowed: false; reason: string };

/**
 * Whether a connection to `ip`, reached by the URL host `host`, may be made: yes when the host
 * name or the address is allow-listed, otherwise when the address is not blocked.
 */
export function checkAddress(host: string, ip: string, allow: AllowList): AddressCheck {
  if (allow.hosts.has(withoutTrailingDot(unbracket(host.toLowerCase())))) return { allowed: true };
  if (!ipaddr.isValid(ip)) return { allowed: false, reason: `${JSON.stringify(ip)} is not an IP address` };
  if (isAllowListedAddress(ip, allow)) return { allowed: true };
  const verdict = isBlockedAddress(ip);
  if (!verdict.blocked) return { allowed: true };
  return { allowed: false, reason: `address ${ip} is in ${verdict.range}` };
}

function isAllowListedAddress(ip: string, allow: AllowList): boolean {
  if (allow.ranges.length === 0) return false;
  const address = comparable(ipaddr.parse(ip));
  return allow.ranges.some(([network, bits]) => network.kind() === address.kind() && address.match(network, bits));
}

/** An IPv4-mapped IPv6 address compares as the IPv4 address it is: allowing 127.0.0.1 allows ::ffff:127.0.0.1. */
function comparable(address: Address): Address {
  return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress() ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

export interface UrlValidationOptions {
  allow: AllowList;
  /** The host's addresses (node:dns lookup with `all: true` in production); rejects or returns [] when it does not resolve. */
  resolve(host: string): Promise<string[]>;
}

const URL_PATH = "url";

/**
 * What is wrong with a webhook URL that can be told without DNS, as issues on `url`: not a URL,
 * not http(s), credentials in it, no host. The endpoint schemas use it; {@link validateWebhookUrl}
 * goes on to the addresses.
 */
export function urlSyntaxIssues(url: string): FieldIssue[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [{ path: URL_PATH, message: "is not a valid URL" }];
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return [{ path: URL_PATH, message: `must use http or https, not ${parsed.protocol.slice(0, -1)}` }];
  }
  if (parsed.username !== "" || parsed.password !== "") {
    // They would be stored in the attempt log with every request, and shown in the dashboard.
    return [{ path: URL_PATH, message: "must not contain credentials (user:password@); use a custom header instead" }];
  }
  if (parsed.hostname === "") return [{ path: URL_PATH, message: "has no host" }];
  return [];
}

/**
 * What is wrong with a webhook URL, as issues on `url` (empty when it is fine): the
 * {@link urlSyntaxIssues}, a host that does not resolve, or any resolved address the rules refuse
 * (each named with its range). Every address counts, not just the first: the sender may connect
 * to any of them.
 */
export async function validateWebhookUrl(url: string, options: UrlValidationOptions): Promise<FieldIssue[]> {
  const syntaxIssues = urlSyntaxIssues(url);
  if (syntaxIssues.length > 0) return syntaxIssues;
  const host = unbracket(new URL(url).hostname);

  let addresses: string[];
  if (ipaddr.isValid(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await options.resolve(host);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) return [{ path: URL_PATH, message: `host ${host} does not resolve` }];
  }

  const issues: FieldIssue[] = [];
  for (const address of addresses) {
    const check = checkAddress(host, address, options.allow);
    if (!check.allowed) {
      const target = address === host ? `is a blocked address: ${check.reason}` : `host ${host} resolves to a blocked address: ${check.reason}`;
      issues.push({ path: URL_PATH, message: `${target}; such addresses are refused unless WEBHOOK_ALLOWED_HOSTS allows them` });
    }
  }
  return issues;
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function withoutTrailingDot(host: string): string {
  return host.endsWith(".") ? host.slice(0, -1) : host;
}
