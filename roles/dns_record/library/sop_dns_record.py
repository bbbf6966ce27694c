#!/usr/bin/python
"""Documentation of the sop_dns_record action (the work is done in action_plugins/)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sop_dns_record
short_description: Publish or remove a server's A and PTR records by RFC 2136 update with TSIG
description:
  - Runs on the controller as an action plugin and calls
    C(sop_pipeline.adapters.dns.DnsAdapter) (dnspython).
  - Prerequisites keep another owner's name untouched, every reply code is checked, every
    change is confirmed by a query, and removal deletes exactly this owner's records.
options:
  name: {description: Host label under the zone., type: str, required: true}
  address: {description: IPv4 address., type: str, required: true}
  owner: {description: Owner of the name (the request id)., type: str, required: true}
  state: {description: present or absent., type: str, default: present, choices: [present, absent]}
  server: {description: Address of the primary., type: str, required: true}
  port: {description: Port of the primary., type: int, default: 53}
  zone: {description: Forward zone., type: str, required: true}
  reverse_zone: {description: Reverse zone (empty for no PTR)., type: str, default: ""}
  key_name: {description: TSIG key name., type: str, default: sop-pipeline}
  key_algorithm: {description: TSIG algorithm., type: str, default: hmac-sha256}
  key_file:
    description: TSIG key file (named.conf syntax) on the controller.
    type: path
    required: true
  ttl: {description: TTL in seconds., type: int, default: 300}
  timeout: {description: Seconds to wait for each answer., type: int, default: 5}
author: Diskominfotik Provinsi Sumatera Barat
"""

EXAMPLES = r"""
- name: Publish simpus.sumbarprov.go.id
  sop_dns_record:
    name: simpus
    address: 10.99.0.150
    owner: dinkes-simpus
    server: 10.99.0.2
    zone: sumbarprov.go.id
    reverse_zone: 0.99.10.in-addr.arpa
    key_file: /var/lib/sop-lab/bind/sop-pipeline.key
  delegate_to: localhost
"""

RETURN = r"""
forward:
  description: What was done to the A record (create, replace, none, remove).
  type: str
  returned: always
reverse:
  description: What was done to the PTR record (create, none, skip, remove).
  type: str
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - after the docs, as Ansible wants


def main() -> None:
    """Refuse to run on a host: this module is an action that runs on the controller."""
    module = AnsibleModule(argument_spec={}, bypass_checks=True)
    module.fail_json(msg="sop_dns_record runs on the controller as an action plugin")


if __name__ == "__main__":
    main()
