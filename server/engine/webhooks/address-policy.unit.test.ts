import { describe, expect, it } from "vitest";
import { checkAddress, isBlockedAddress, parseAllowList, validateWebhookUrl, type AllowList } from "./address-policy";

const noAllowList = parseAllowList("");

describe("isBlockedAddress", () => {
  it.each([
    // IPv4: private, loopback, link-local, CGNAT and the rest.
    ["10.0.0.1", "10.0.0.0/8 (private)"],
    ["10.255.255.255", "10.0.0.0/8 (private)"],
    ["172.16.0.1", "172.16.0.0/12 (private)"],
    ["172.31.255.254", "172.16.0.0/12 (private)"],
    ["192.168.1.1", "192.168.0.0/16 (private)"],
    ["127.0.0.1", "127.0.0.0/8 (loopback)"],
    ["127.255.0.9", "127.0.0.0/8 (loopback)"],
    ["169.254.169.254", "169.254.0.0/16 (link-local)"],
    ["100.64.0.1", "100.64.0.0/10 (carrier-grade NAT)"],
    ["100.127.255.254", "100.64.0.0/10 (carrier-grade NAT)"],
    ["0.0.0.0", "0.0.0.0/8 (this network / unspecified)"],
    ["0.1.2.3", "0.0.0.0/8 (this network / unspecified)"],
    ["255.255.255.255", "255.255.255.255/32 (broadcast)"],
    ["224.0.0.251", "224.0.0.0/4 (multicast)"],
    ["239.255.255.250", "224.0.0.0/4 (multicast)"],
    ["240.0.0.1", "240.0.0.0/4 (reserved)"],
    ["192.0.0.8", "192.0.0.0/24 (IETF protocol assignments)"],
    ["192.0.2.10", "192.0.2.0/24 (documentation)"],
    ["198.51.100.7", "198.51.100.0/24 (documentation)"],
    ["203.0.113.200", "203.0.113.0/24 (documentation)"],
    ["198.18.0.1", "198.18.0.0/15 (benchmarking)"],
    ["198.19.255.255", "198.18.0.0/15 (benchmarking)"],
    ["192.88.99.1", "192.88.99.0/24 (6to4 relay anycast (deprecated))"],
    // Unusual IPv4 notations, as ipaddr.js reads them (octal, a single number, hex).
    ["0177.0.0.1", "127.0.0.0/8 (loopback)"],
    ["2130706433", "127.0.0.0/8 (loopback)"],
    ["0x7f.1", "127.0.0.0/8 (loopback)"],
    // IPv6.
    ["::1", "::1/128 (loopback)"],
    ["::", "::/128 (unspecified)"],
    ["fe80::1", "fe80::/10 (link-local)"],
    ["fe80::1%eth0", "fe80::/10 (link-local)"],
    ["febf:ffff::1", "fe80::/10 (link-local)"],
    ["fc00::1", "fc00::/7 (unique local (ULA))"],
    ["fd00::1", "fc00::/7 (unique local (ULA))"],
    ["fec0::1", "fec0::/10 (site-local (deprecated))"],
    ["ff02::1", "ff00::/8 (multicast)"],
    ["2001:db8::1", "2001:db8::/32 (documentation)"],
    ["3fff:0:1::1", "3fff::/20 (documentation)"],
    ["2001:2::5", "2001:2::/48 (benchmarking)"],
    ["100::1", "100::/64 (discard-only)"],
    ["64:ff9b:1::a00:1", "64:ff9b:1::/48 (local-use NAT64)"],
    ["5f00::1", "5f00::/16 (segment routing (SRv6))"],
    ["4000::1", "outside 2000::/3 (reserved)"],
    // IPv6 carrying an IPv4 address: judged by that address.
    ["::ffff:127.0.0.1", "::ffff:0:0/96 (IPv4-mapped) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["::ffff:7f00:1", "::ffff:0:0/96 (IPv4-mapped) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["::ffff:a9fe:a9fe", "::ffff:0:0/96 (IPv4-mapped) carrying 169.254.169.254 in 169.254.0.0/16 (link-local)"],
    ["::ffff:0:10.0.0.1", "::ffff:0:0:0/96 (IPv4-translated (SIIT)) carrying 10.0.0.1 in 10.0.0.0/8 (private)"],
    ["::7f00:1", "::/96 (IPv4-compatible) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["::c0a8:101", "::/96 (IPv4-compatible) carrying 192.168.1.1 in 192.168.0.0/16 (private)"],
    ["64:ff9b::a00:1", "64:ff9b::/96 (NAT64) carrying 10.0.0.1 in 10.0.0.0/8 (private)"],
    ["64:ff9b::127.0.0.1", "64:ff9b::/96 (NAT64) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["2002:7f00:1::", "2002::/16 (6to4) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["2002:a9fe:a9fe::1", "2002::/16 (6to4) carrying 169.254.169.254 in 169.254.0.0/16 (link-local)"],
    // Teredo: server 65.54.227.120, client 10.0.0.1 (stored inverted: f5ff:fffe).
    ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "2001::/32 (Teredo) carrying 10.0.0.1 in 10.0.0.0/8 (private)"],
    // Teredo with a private server address.
    ["2001:0:a00:1:8000:63bf:3fff:fdd2", "2001::/32 (Teredo) carrying 10.0.0.1 in 10.0.0.0/8 (private)"],
    // RFC 4380's own example: its client 192.0.2.45 is a documentation address.
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32 (Teredo) carrying 192.0.2.45 in 192.0.2.0/24 (documentation)"],
    ["2001:1::1", "2001::/23 (IETF protocol assignments)"],
    // Not an address at all.
    ["example.com", "not an IP address"],
    ["", "not an IP address"],
    ["256.1.1.1", "not an IP address"],
  ])("%s is blocked: %s", (ip, range) => {
    expect(isBlockedAddress(ip)).toEqual({ blocked: true, range });
  });

  it.each([
    ["8.8.8.8"],
    ["1.1.1.1"],
    ["93.184.215.14"],
    ["100.63.255.255"], // just below CGNAT
    ["100.128.0.0"], // just above CGNAT
    ["172.15.255.255"], // just below 172.16/12
    ["172.32.0.0"], // just above
    ["169.253.255.255"],
    ["198.17.255.255"],
    ["198.20.0.0"],
    ["223.255.255.255"],
    ["11.0.0.1"],
    ["2606:4700:4700::1111"],
    ["2a00:1450:4001:81c::200e"],
    ["::ffff:8.8.8.8"],
    ["64:ff9b::808:808"], // NAT64 of 8.8.8.8
    ["2002:808:808::1"], // 6to4 of 8.8.8.8
    ["2001:0:4136:e378:8000:63bf:f7f7:f7f7"], // Teredo: server 65.54.227.120, client 8.8.8.8
  ])("%s is not blocked", (ip) => {
    expect(isBlockedAddress(ip)).toEqual({ blocked: false });
  });
});

describe("parseAllowList", () => {
  it("reads host names, addresses and CIDR ranges, ignoring blanks and case", () => {
    const allow = parseAllowList(" LocalHost., 127.0.0.1 , [::1], 10.1.0.0/16,,fd00::/8 ");
    expect([...allow.hosts]).toEqual(["localhost"]);
    expect(allow.ranges.map(([network, bits]) => `${network.toString()}/${bits}`)).toEqual(["127.0.0.1/32", "::1/128", "10.1.0.0/16", "fd00::/8"]);
  });

  it("is empty for an empty setting", () => {
    expect(parseAllowList("")).toEqual({ hosts: new Set(), ranges: [] });
  });

  it.each([["10.0.0.0/33"], ["not a host!"], ["-leading.dash"], ["http://example.com"], ["1.2.3.4/x"]])("refuses %s", (value) => {
    expect(() => parseAllowList(value)).toThrow(RangeError);
  });
});

describe("checkAddress", () => {
  const allow = parseAllowList("localhost,receiver.internal,127.0.0.1,10.1.0.0/16,fd12::/16");

  it("allows a public address", () => {
    expect(checkAddress("example.com", "93.184.215.14", noAllowList)).toEqual({ allowed: true });
  });

  it("refuses a blocked address, naming it and its range", () => {
    expect(checkAddress("evil.example", "169.254.169.254", noAllowList)).toEqual({
      allowed: false,
      reason: "address 169.254.169.254 is in 169.254.0.0/16 (link-local)",
    });
  });

  it("allows any address of an allow-listed host name, case-insensitively, with or without the trailing dot", () => {
    expect(checkAddress("LOCALHOST", "::1", allow)).toEqual({ allowed: true });
    expect(checkAddress("receiver.internal.", "10.9.9.9", allow)).toEqual({ allowed: true });
  });

  it("matches host names exactly: a subdomain is not allow-listed", () => {
    expect(checkAddress("x.receiver.internal", "10.9.9.9", allow).allowed).toBe(false);
    expect(checkAddress("localhost.evil.example", "127.0.0.1", parseAllowList("localhost")).allowed).toBe(false);
  });

  it("allows allow-listed addresses and ranges, the IPv4-mapped form too", () => {
    expect(checkAddress("a.example", "127.0.0.1", allow)).toEqual({ allowed: true });
    expect(checkAddress("a.example", "::ffff:127.0.0.1", allow)).toEqual({ allowed: true });
    expect(checkAddress("a.example", "10.1.200.3", allow)).toEqual({ allowed: true });
    expect(checkAddress("a.example", "fd12::9", allow)).toEqual({ allowed: true });
  });

  it("refuses something that is not an IP address, allow-list or not", () => {
    expect(checkAddress("a.example", "not-an-ip", allow)).toEqual({ allowed: false, reason: '"not-an-ip" is not an IP address' });
  });

  it("does not widen an allow-listed address to its neighbours", () => {
    expect(checkAddress("a.example", "127.0.0.2", allow).allowed).toBe(false);
    expect(checkAddress("a.example", "10.2.0.1", allow).allowed).toBe(false);
    expect(checkAddress("a.example", "::1", allow).allowed).toBe(false);
  });
});

describe("validateWebhookUrl", () => {
  const dns: Record<string, string[]> = {
    "example.com": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
    "rebind.example": ["93.184.215.14", "10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    localhost: ["127.0.0.1", "::1"],
  };
  const resolve = async (host: string) => {
    const addresses = dns[host.replace(/\.$/, "")];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return addresses;
  };
  const validate = (url: string, allow: AllowList = noAllowList) => validateWebhookUrl(url, { allow, resolve });

  it("accepts a public http and https URL", async () => {
    expect(await validate("https://example.com/hooks?x=1")).toEqual([]);
    expect(await validate("http://example.com:8080/hooks")).toEqual([]);
    expect(await validate("https://EXAMPLE.com./")).toEqual([]);
    expect(await validate("https://93.184.215.14/")).toEqual([]);
  });

  it.each([["not a url"], [""], ["https://"], ["//example.com/x"], ["http://[fe80::1%eth0]/"], ["http://[fe80::1%25eth0]/"], ["http://exa mple.com/"]])(
    "refuses %s as not a URL",
    async (url) => {
      expect(await validate(url)).toEqual([{ path: "url", message: "is not a valid URL" }]);
    },
  );

  it.each([["ftp://example.com/"], ["file:///etc/passwd"], ["javascript:alert(1)"], ["ws://example.com/"], ["gopher://example.com/"]])(
    "refuses the scheme of %s",
    async (url) => {
      const issues = await validate(url);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.path).toBe("url");
      expect(issues[0]!.message).toMatch(/^must use http or https, not /);
    },
  );

  it.each([["https://user:pass@example.com/"], ["https://user@example.com/"], ["https://:secret@example.com/"]])("refuses credentials in %s", async (url) => {
    expect(await validate(url)).toEqual([{ path: "url", message: "must not contain credentials (user:password@); use a custom header instead" }]);
  });

  it("refuses a host that does not resolve, or resolves to nothing", async () => {
    expect(await validate("https://nowhere.invalid/")).toEqual([{ path: "url", message: "host nowhere.invalid does not resolve" }]);
    expect(await validateWebhookUrl("https://example.com/", { allow: noAllowList, resolve: async () => [] })).toEqual([
      { path: "url", message: "host example.com does not resolve" },
    ]);
  });

  it.each([
    ["http://127.0.0.1:3000/", "127.0.0.1", "127.0.0.0/8 (loopback)"],
    // WHATWG URL parsing normalises these to 127.0.0.1 before we see them.
    ["http://0177.0.0.1/", "127.0.0.1", "127.0.0.0/8 (loopback)"],
    ["http://2130706433/", "127.0.0.1", "127.0.0.0/8 (loopback)"],
    ["http://0x7f.1/", "127.0.0.1", "127.0.0.0/8 (loopback)"],
    ["http://127.1/", "127.0.0.1", "127.0.0.0/8 (loopback)"],
    ["http://[::1]/", "::1", "::1/128 (loopback)"],
    // …and this one to [::ffff:7f00:1].
    ["http://[::ffff:127.0.0.1]/", "::ffff:7f00:1", "::ffff:0:0/96 (IPv4-mapped) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.0.0/16 (link-local)"],
    ["http://100.64.0.1/", "100.64.0.1", "100.64.0.0/10 (carrier-grade NAT)"],
    ["http://[64:ff9b::a00:1]/", "64:ff9b::a00:1", "64:ff9b::/96 (NAT64) carrying 10.0.0.1 in 10.0.0.0/8 (private)"],
    ["http://[2002:7f00:1::]/", "2002:7f00:1::", "2002::/16 (6to4) carrying 127.0.0.1 in 127.0.0.0/8 (loopback)"],
    ["http://[fd00::1]/", "fd00::1", "fc00::/7 (unique local (ULA))"],
    ["http://0.0.0.0:8080/", "0.0.0.0", "0.0.0.0/8 (this network / unspecified)"],
  ])("refuses the IP literal in %s", async (url, address, range) => {
    expect(await validate(url)).toEqual([
      {
        path: "url",
        message: `is a blocked address: address ${address} is in ${range}; such addresses are refused unless WEBHOOK_ALLOWED_HOSTS allows them`,
      },
    ]);
  });

  it("refuses a host name that resolves to a blocked address, naming host, address and range", async () => {
    expect(await validate("https://metadata.example/")).toEqual([
      {
        path: "url",
        message:
          "host metadata.example resolves to a blocked address: address 169.254.169.254 is in 169.254.0.0/16 (link-local); such addresses are refused unless WEBHOOK_ALLOWED_HOSTS allows them",
      },
    ]);
  });

  it("refuses a host when any one of its addresses is blocked", async () => {
    const issues = await validate("https://rebind.example/");
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toContain("address 10.0.0.7 is in 10.0.0.0/8 (private)");
  });

  it("names every blocked address", async () => {
    const issues = await validate("http://localhost:3000/hook");
    expect(issues.map((issue) => issue.message)).toEqual([
      "host localhost resolves to a blocked address: address 127.0.0.1 is in 127.0.0.0/8 (loopback); such addresses are refused unless WEBHOOK_ALLOWED_HOSTS allows them",
      "host localhost resolves to a blocked address: address ::1 is in ::1/128 (loopback); such addresses are refused unless WEBHOOK_ALLOWED_HOSTS allows them",
    ]);
  });

  it("lets the allow-list through: by host name, and by address", async () => {
    const allow = parseAllowList("127.0.0.1,localhost");
    expect(await validate("http://localhost:3000/hook", allow)).toEqual([]);
    expect(await validate("http://127.0.0.1:3000/hook", allow)).toEqual([]);
    expect(await validate("http://[::ffff:127.0.0.1]:3000/hook", allow)).toEqual([]);
    expect(await validate("http://[::1]:3000/hook", allow)).toHaveLength(1);
    expect(await validate("http://127.0.0.2:3000/hook", allow)).toHaveLength(1);
  });

  it("does not call the resolver for an IP literal", async () => {
    let calls = 0;
    const counting = async (host: string) => {
      calls += 1;
      return resolve(host);
    };
    await validateWebhookUrl("http://93.184.215.14/", { allow: noAllowList, resolve: counting });
    await validateWebhookUrl("http://[2606:4700:4700::1111]/", { allow: noAllowList, resolve: counting });
    expect(calls).toBe(0);
  });
});
