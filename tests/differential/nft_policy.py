"""An sgfw policy (TOML) as an nftables ruleset for a Linux bridge with
br_netfilter and conntrack: the reference the differential test
(differential.py) compares sgfw with, packet by packet.

The ruleset says what sgfw's defaults say, in netfilter's terms:

  - a bridge-family chain marks each frame with the port it came in on
    (outside 1, inside 2): the inet hooks that br_netfilter runs see the
    bridge, not the port;
  - established and related traffic passes (S5, S6: conntrack relates an
    ICMP error to a flow only when it goes back to the quoted packet's
    sender);
  - a TCP segment conntrack calls INVALID is dropped (with
    nf_conntrack_tcp_loose = 0: only a SYN opens a flow, as midstream =
    "drop"); ICMP that conntrack cannot track (an echo reply, an error
    quoting no flow, types that are neither) goes on to the rules, which
    judge it without state, as sgfw does;
  - every other packet must pass its source resource's egress rules (only
    when it comes in on that resource's port, S1) and its destination
    resource's ingress rules (S3: any rule of any of its groups), and
    touch at least one resource (S9: traffic of no resource is dropped).
    Bits of the packet mark record each: 0x100 egress passed or no source
    resource, 0x200 ingress passed or no destination resource, 0x400 some
    resource.

Rules are translated one by one (S2): tcp/udp with destination ports,
icmp/icmpv6 with type and code, a protocol number, or all; peers as CIDR
blocks, prefix lists or the current addresses of a group's members.
Groups without an egress key get sgfw's default egress (all, both
families); resources without groups get the default group.
"""

import ipaddress

OUTSIDE, INSIDE = 1, 2
EGRESS_OK, INGRESS_OK, PROTECTED = 0x100, 0x200, 0x400


def _family(addr):
    return 6 if ":" in addr else 4


def _ports(spec):
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for p in items:
        if isinstance(p, int):
            out.append(str(p))
        elif p == "all":
            out.append("0-65535")
        else:
            out.append(p)
    return "{ " + ", ".join(out) + " }"


def _protocol(rule):
    p = rule["protocol"]
    if isinstance(p, str):
        p = p.lower()
        p = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58, "all": -1}.get(p, p)
        p = int(p)
    return -1 if p == -1 else p


class Policy:
    def __init__(self, doc):
        self.doc = doc
        self.groups = {g["id"]: g for g in doc.get("security_group", [])}
        self.prefix_lists = {p["id"]: p for p in doc.get("prefix_list", [])}
        self.resources = doc.get("resource", [])
        if "default" not in self.groups:
            self.groups["default"] = {"id": "default", "ingress": [{"protocol": "all", "security_group": "default"}]}

    def groups_of(self, res):
        return res.get("security_groups") or ["default"]

    def members(self, group_id, fam):
        out = []
        for r in self.resources:
            if group_id in self.groups_of(r):
                out += [a for a in r["addresses"] if _family(a) == fam]
        return out

    def peers(self, rule):
        """(family, [CIDR or address strings]) pairs the rule's peer stands for."""
        if "cidr" in rule:
            c = rule["cidr"]
            return [(_family(c), [c])]
        if "prefix_list" in rule:
            entries = self.prefix_lists[rule["prefix_list"]]["entries"]
            entries = [e if isinstance(e, str) else e["cidr"] for e in entries]
            return [(_family(entries[0]), entries)] if entries else []
        g = rule["security_group"]
        return [(fam, self.members(g, fam)) for fam in (4, 6)]

    def egress_rules(self, group):
        if "egress" not in group:
            return [{"protocol": "all", "cidr": "0.0.0.0/0"}, {"protocol": "all", "cidr": "::/0"}]
        return group["egress"]


def _match(rule, direction, fam, addrs):
    """nft match expressions for one rule and one family's peer addresses."""
    if not addrs:
        return None
    ip = "ip" if fam == 4 else "ip6"
    peer_field = "saddr" if direction == "ingress" else "daddr"
    nets = [a for a in addrs if ipaddress.ip_network(a, strict=False).prefixlen != 0]
    parts = []
    if len(nets) == len(addrs):
        parts.append(f"{ip} {peer_field} {{ {', '.join(addrs)} }}")
    else:
        parts.append(f"meta nfproto {'ipv4' if fam == 4 else 'ipv6'}")  # 0.0.0.0/0 or ::/0
    proto = _protocol(rule)
    if proto in (6, 17):
        parts.append(f"{'tcp' if proto == 6 else 'udp'} dport {_ports(rule['ports'])}")
    elif proto in (1, 58):
        if (proto == 1) != (fam == 4):
            return None
        kw = "icmp" if proto == 1 else "icmpv6"
        t, c = rule.get("icmp_type", -1), rule.get("icmp_code", -1)
        if t in (-1, "all"):
            parts.append(f"meta l4proto {kw}")
        else:
            parts.append(f"{kw} type {t}")
            if c not in (-1, "all"):
                parts.append(f"{kw} code {c}")
    elif proto != -1:
        parts.append(f"meta l4proto {proto}")
    return " ".join(parts)


def translate(doc, out_port, in_port):
    """The ruleset for a bridge whose outside port is `out_port` and
    inside port `in_port` (interface names in the bridge's namespace)."""
    pol = Policy(doc)
    lines = ["table bridge sgfw_ports {", "  chain prerouting {",
             "    type filter hook prerouting priority -300; policy accept;",
             f'    iifname "{out_port}" meta mark set {OUTSIDE}',
             f'    iifname "{in_port}" meta mark set {INSIDE}', "  }", "}", "", "table inet sgfw {"]
    chains, classify = [], []
    all_addrs = {4: [], 6: []}
    for i, res in enumerate(pol.resources):
        side = INSIDE if res.get("side", "inside") == "inside" else OUTSIDE
        eg, ing = [], []
        for gid in pol.groups_of(res):
            g = pol.groups[gid]
            for rule in pol.egress_rules(g):
                for fam, addrs in pol.peers(rule):
                    m = _match(rule, "egress", fam, addrs)
                    if m:
                        eg.append(f"    {m} meta mark set meta mark or {EGRESS_OK:#x} return")
            for rule in g.get("ingress", []):
                for fam, addrs in pol.peers(rule):
                    m = _match(rule, "ingress", fam, addrs)
                    if m:
                        ing.append(f"    {m} meta mark set meta mark or {INGRESS_OK:#x} return")
        chains += [f"  chain eg{i} {{", f"    meta mark and 0xf != {side} return"] + eg + ["  }"]
        chains += [f"  chain in{i} {{"] + ing + ["  }"]
        for a in res["addresses"]:
            fam = _family(a)
            ip = "ip" if fam == 4 else "ip6"
            all_addrs[fam].append(a)
            classify.append(f"    {ip} saddr {a} meta mark set meta mark or {PROTECTED:#x} jump eg{i}")
            classify.append(f"    {ip} daddr {a} meta mark set meta mark or {PROTECTED:#x} jump in{i}")
    for fam in (4, 6):
        ip, nf = ("ip", "ipv4") if fam == 4 else ("ip6", "ipv6")
        if all_addrs[fam]:
            s = "{ " + ", ".join(all_addrs[fam]) + " }"
            classify.append(f"    {ip} saddr != {s} meta mark set meta mark or {EGRESS_OK:#x}")
            classify.append(f"    {ip} daddr != {s} meta mark set meta mark or {INGRESS_OK:#x}")
        else:
            classify.append(f"    meta nfproto {nf} meta mark set meta mark or {EGRESS_OK | INGRESS_OK:#x}")
    lines += chains
    lines += ["  chain classify {"] + classify + ["  }"]
    need = EGRESS_OK | INGRESS_OK | PROTECTED
    lines += [
        "  chain forward {",
        "    type filter hook forward priority 0; policy drop;",
        "    ct state established,related accept",
        "    meta l4proto tcp ct state invalid drop",
        "    meta mark set meta mark and 0xf",
        "    jump classify",
        f"    meta mark and {need:#x} == {need:#x} accept",
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"
