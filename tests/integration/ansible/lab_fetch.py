"""Fetch a site by its DNS name from inside the lab network; print what came back as JSON.

Run inside the lab namespace (``ip netns exec <namespace> python lab_fetch.py NAME ...``): the name
is resolved at the lab's BIND (A and PTR), then the page is fetched over HTTP (expecting the
redirect to HTTPS) and over HTTPS with the certificate checked against ``--cafile`` and the
name, as a browser would.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import ssl

import dns.resolver
import dns.reversename


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--dns", default="10.99.0.2")
    parser.add_argument("--dns-port", type=int, default=53)
    parser.add_argument("--cafile", default="")
    parser.add_argument("--resolve-only", action="store_true")
    args = parser.parse_args()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [args.dns]
    resolver.port = args.dns_port
    out: dict[str, object] = {"name": args.name}
    try:
        address = resolver.resolve(args.name, "A")[0].to_text()
    except dns.resolver.NXDOMAIN:
        out["address"] = None
        print(json.dumps(out))
        return
    out["address"] = address
    try:
        ptr = resolver.resolve(dns.reversename.from_address(address), "PTR")
        out["ptr"] = sorted(r.to_text() for r in ptr)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        out["ptr"] = []
    if args.resolve_only:
        print(json.dumps(out))
        return
    plain = http.client.HTTPConnection(address, 80, timeout=20)
    plain.request("GET", "/", headers={"Host": args.name})
    reply = plain.getresponse()
    out["http_status"] = reply.status
    out["http_location"] = reply.getheader("Location")
    context = ssl.create_default_context(cafile=args.cafile)
    with (
        socket.create_connection((address, 443), timeout=20) as raw,
        context.wrap_socket(raw, server_hostname=args.name) as tls,
    ):
        tls.sendall(f"GET / HTTP/1.0\r\nHost: {args.name}\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    out["https_status"] = int(head.split(b" ", 2)[1])
    out["body"] = body.decode("utf-8", errors="replace")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
