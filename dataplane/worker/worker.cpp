#include "worker/worker.hpp"

#include <rte_ethdev.h>

#include <algorithm>

#include "conntrack/tracker.hpp"
#include "net/packet_parser.hpp"
#include "worker/flow_owner.hpp"

namespace sgfw::dp {

namespace {

const flow_timeouts& timeouts_of(const compiled_policy& p, std::uint32_t resource) {
  return p.resource_timeouts[std::min<std::size_t>(resource, p.resource_count())];
}

// An ICMP query flow (S5) is keyed by the identifier and by which query it
// is and which way its request went, as Linux conntrack keys echo request
// and reply as one tuple: a timestamp request does not let an echo reply
// back, and a peer's own echo request with the identifier of ours is a flow
// of its own.  Both ports of the key carry it: the identifier local, the
// request's type (and bit 8: the request travelled towards the resource)
// remote.
bool icmp_request(net::family f, std::uint8_t type) {
  return f == net::family::ipv4 ? (type == 8 || type == 13 || type == 15 || type == 17) : type == 128;
}
std::uint16_t icmp_request_type(net::family f, std::uint8_t type) {
  if (icmp_request(f, type)) return type;
  if (f == net::family::ipv6) return type == 129 ? 128 : type;
  return type == 0 ? 8 : static_cast<std::uint8_t>(type - 1);  // 14, 16, 18 answer 13, 15, 17
}
std::uint16_t icmp_query_key(net::family f, std::uint8_t type, bool travels_inbound) {
  const bool request_inbound = icmp_request(f, type) ? travels_inbound : !travels_inbound;
  return static_cast<std::uint16_t>(icmp_request_type(f, type) | (request_inbound ? 0x100 : 0));
}

bool is_icmp(const parsed_packet& p) {
  return (p.proto == ip_proto::icmp && p.fam == net::family::ipv4) ||
         (p.proto == ip_proto::icmpv6 && p.fam == net::family::ipv6);
}

// Broadcast (255.255.255.255) and multicast (224.0.0.0/4, ff00::/8).
bool group_address(net::family f, net::u128 a) {
  if (f == net::family::ipv4) return (a >> 28) == 0xE || a == 0xFFFFFFFFU;
  return (a >> 120) == 0xFF;
}

bool forwarded_group(const compiled_policy& policy, const net::ip_address& a) {
  for (const net::cidr& c : policy.forward_multicast) {
    if (c.contains(a)) return true;
  }
  return false;
}

// A MAC address as on the wire, in the low 48 bits.
// Router advertisements and redirects (ICMPv6 134, 137), IPv4 redirects (5).
bool router_message(net::family f, std::uint8_t type) {
  if (f == net::family::ipv4) return type == 5;
  return type == 134 || type == 137;
}

std::uint64_t mac_at(const std::uint8_t* p) {
  std::uint64_t m = 0;
  for (int i = 0; i < 6; ++i) m = (m << 8) | p[i];
  return m;
}
constexpr std::uint64_t k_mac_group_bit = std::uint64_t{1} << 40;  // I/G bit of the first octet

}  // namespace

worker::worker(worker_config config)
    : config_(std::move(config)),
      owner_(config_.workers, config_.reta_size),
      conns_({config_.flow_capacity, config_.early_drop, config_.count_flows}),
      fragments_(config_.fragment_slots),
      aged_at_(static_cast<std::uint32_t>(config_.clock.now_ms())) {
  config_.policy->register_worker(config_.id);
  config_.policy->attach_rule_counters(config_.id, &rule_counts_);
}

worker::~worker() {
  config_.policy->attach_rule_counters(config_.id, nullptr);
  config_.policy->unregister_worker(config_.id);
}

unsigned worker::poll_once(bool ports) {
  now_ms_ = config_.clock.now_ms();
  now_ = static_cast<std::uint32_t>(now_ms_);
  std::array<rte_mbuf*, k_burst> burst;
  unsigned received = 0;
  for (const std::uint16_t port : {config_.outside_port, config_.inside_port}) {
    if (!ports) break;
    const std::uint16_t n = rte_eth_rx_burst(port, config_.rx_queue, burst.data(), k_burst);
    received += n;
    tally_[counter_id::rx] += n;
    if (n != 0) process(burst.data(), n, port);
  }
  if (!config_.handoff.empty()) {
    const unsigned n =
        rte_ring_dequeue_burst(config_.handoff[config_.id], reinterpret_cast<void**>(burst.data()), k_burst, nullptr);
    tally_[counter_id::received_from_others] += n;
    received += n;
    if (n != 0) process(burst.data(), static_cast<std::uint16_t>(n), k_from_handoff);
  }
  age();
  if (dump_.pending()) dump_.step(conns_, now_);  // describe-flows (flow_dump.hpp)

  const connection_table::tally t = conns_.take_tally();
  tally_[counter_id::flows_created] += t.created;
  tally_[counter_id::flows_closed] += t.closed;
  tally_[counter_id::flows_expired] += t.expired;
  tally_[counter_id::flows_early_dropped] += t.evicted;
  tally_[counter_id::flows] = conns_.size();
  tally_.publish(counters_);

  config_.policy->quiescent(config_.id);
  return received;
}

void worker::process(rte_mbuf** mbufs, std::uint16_t n, std::uint16_t in_port) {
  const bool from_handoff = in_port == k_from_handoff;
  // One load of the policy for the whole burst (RCU read side).
  const compiled_policy* policy = config_.policy->current();
  classify_count_ = 0;
  deferred_ = false;
  constexpr std::uint16_t k_ahead = 4;  // packets whose headers are loading while one is parsed
  for (std::uint16_t i = 0; i < n && i < k_ahead; ++i) rte_prefetch0(rte_pktmbuf_mtod(mbufs[i], const void*));
  for (std::uint16_t i = 0; i < n; ++i) {
    if (i + k_ahead < n) rte_prefetch0(rte_pktmbuf_mtod(mbufs[i + k_ahead], const void*));
    slot& s = slots_[i];
    s.mbuf = mbufs[i];
    // The port travels with the mbuf when it is handed to another worker.
    if (!from_handoff) s.mbuf->port = in_port;
    s.in_port = s.mbuf->port;
    s.drop = drop_reason::none;
    s.done = false;
    s.deferred = false;
    s.wrong_side = false;
    s.via_quote = false;
    s.sides = 0;
    parse_frame(rte_pktmbuf_mtod(s.mbuf, const std::uint8_t*), s.mbuf->data_len, s.packet);
  }
  if (policy == nullptr) {
    for (std::uint16_t i = 0; i < n; ++i) drop(slots_[i], drop_reason::policy_denied);  // nothing allowed yet
    flush();
    return;
  }
  // Sorted out in a pass of its own: reading a packet's parsed fields right
  // after parse_frame wrote them stalls on store forwarding (wide loads of
  // narrower stores); a burst later they are in the cache.
  for (std::uint16_t i = 0; i < n; ++i) {
    slot& s = slots_[i];
    if (!from_handoff && config_.workers > 1 && s.packet.kind == frame_kind::ip) {
      const parsed_packet& p = s.packet;
      const std::uint32_t owner = p.icmp_error ? owner_(p.fam, p.quote.src, p.quote.dst) : owner_(p.fam, p.src, p.dst);
      if (owner != config_.id) {
        if (rte_ring_enqueue(config_.handoff[owner], s.mbuf) == 0) {
          ++tally_[counter_id::handed_off];
          s.done = true;
        } else {
          drop(s, drop_reason::handoff_full);
        }
        continue;
      }
    }
    sort_out(s, *policy);
  }

  // The flow lookups in three passes, so that the burst's cache misses
  // overlap (flow_table.hpp): every key was hashed and its control words
  // started loading as its packet was sorted out; now start loading the
  // entries, then look them up.
  for (std::uint16_t i = 0; i < n; ++i) {
    slot& s = slots_[i];
    if (s.done) continue;
    for (std::uint8_t k = 0; k < s.sides; ++k) {
      side& sd = s.side_of[k];
      if (!sd.stateless) sd.hint = conns_.prefetch_entry(sd.hash);
    }
  }
  for (std::uint16_t i = 0; i < n; ++i) {
    if (!slots_[i].done) look_up(slots_[i], *policy);
  }
  if (classify_count_ != 0) classify_burst(*policy, classify_keys_.data(), decisions_.data(), classify_count_);
  for (std::uint16_t i = 0; i < n; ++i) {
    if (!slots_[i].done) commit(slots_[i], *policy);
  }
  // Later fragments last, in the order they came: a first fragment this
  // burst judged is remembered by now, whether it came before them in the
  // burst or (reordered on the way) after them.
  if (deferred_) {
    for (std::uint16_t i = 0; i < n; ++i) {
      if (slots_[i].deferred) follow_fragment(slots_[i]);
    }
  }
  flush();
}

// Everything that needs no flow lookup is decided here.
void worker::sort_out(slot& s, const compiled_policy& policy) {
  const parsed_packet& p = s.packet;
  switch (p.kind) {
    case frame_kind::malformed:
      return drop(s, to_drop_reason(p.malformed));
    case frame_kind::arp:
      return policy.arp_nd_pass ? forward(s) : drop(s, drop_reason::arp_nd);
    case frame_kind::non_ip:
      // MPLS, PPPoE, LLC/SNAP and the like would carry IP past the rules.
      return policy.other_ethertypes_forward ? forward(s) : drop(s, drop_reason::other_ethertype);
    case frame_kind::ip:
      break;
  }
  if (p.neighbour_discovery) {
    // RA guard (RFC 6105): router advertisements and redirects from the
    // outside would let anyone there become the resources' router.
    constexpr std::uint8_t k_router_advertisement = 134;
    constexpr std::uint8_t k_redirect = 137;
    if (policy.ra_guard && s.in_port == config_.outside_port &&
        (p.icmp_type == k_router_advertisement || p.icmp_type == k_redirect)) {
      return drop(s, drop_reason::ra_guard);
    }
    return policy.arp_nd_pass ? forward(s) : drop(s, drop_reason::arp_nd);
  }
  // Not valid neighbour discovery (fragmented, or hop limit below 255: no
  // host takes it as one, RFC 6980), an RA or redirect from the outside is
  // still no message for the resources; nor is an IPv4 redirect.
  if (policy.ra_guard && p.has_l4 && s.in_port == config_.outside_port && is_icmp(p) &&
      router_message(p.fam, p.icmp_type)) {
    return drop(s, drop_reason::ra_guard);
  }
  // Two keys of one packet would be the same flow; no host sends this.
  if (p.src == p.dst) return drop(s, drop_reason::land);
  if (group_address(p.fam, p.src)) return drop(s, drop_reason::martian_source);
  // S9: the cloud delivers no broadcast or multicast; only what the file
  // names is forwarded, as it is.
  if (group_address(p.fam, p.dst)) {
    return forwarded_group(policy, p.destination()) ? forward(s) : drop(s, drop_reason::broadcast_multicast);
  }
  // Unicast IP in a broadcast or multicast frame (RFC 1122 3.3.6: hosts
  // discard it): it would reach every host behind the port, judged as if
  // for none of them.
  if ((rte_pktmbuf_mtod(s.mbuf, const std::uint8_t*)[0] & 0x01) != 0) {
    return drop(s, drop_reason::broadcast_multicast);
  }
  std::uint32_t src_res = policy.resources.find(p.source());
  std::uint32_t dst_res = policy.resources.find(p.destination());
  if (policy.resources.has_macs() && (src_res == k_no_resource || dst_res == k_no_resource)) {
    // A resource that listed its MAC owns every address it uses behind it.
    const std::uint8_t* eth = rte_pktmbuf_mtod(s.mbuf, const std::uint8_t*);
    if (src_res == k_no_resource) src_res = policy.resources.find_mac(mac_at(eth + 6));
    const std::uint64_t dst_mac = mac_at(eth);
    if (dst_res == k_no_resource && (dst_mac & k_mac_group_bit) == 0) dst_res = policy.resources.find_mac(dst_mac);
  }
  if (src_res == k_no_resource && dst_res == k_no_resource) {
    if (policy.unprotected_forward) return forward(s);
    // S6: an error from a router between the appliance and a resource,
    // back to the peer that sent the quoted packet to the resource (path
    // MTU discovery for connections that come in), names neither as its
    // addresses; it is related to the resource's flow, judged on the
    // resource's side as if the resource had sent it, and nothing else.
    const quoted_packet& q = p.quote;
    if (p.icmp_error && policy.icmp_errors_related && q.src == p.dst) {
      const std::uint32_t r = policy.resources.find({p.fam, q.dst});
      if (r != k_no_resource &&
          s.in_port == (policy.resource_side[r] == port_side::inside ? config_.inside_port : config_.outside_port)) {
        s.via_quote = true;
        return make_sides(s, policy, r, k_no_resource);
      }
    }
    return drop(s, drop_reason::unprotected);
  }
  if (p.proto == ip_proto::tcp && p.has_l4 && !tcp_flags_valid(p.tcp_flags)) return drop(s, drop_reason::tcp_invalid);
  if (src_res != k_no_resource) {
    const std::uint16_t home =
        policy.resource_side[src_res] == port_side::inside ? config_.inside_port : config_.outside_port;
    s.wrong_side = s.in_port != home;
    // A resource's segment from the port it does not sit behind may be
    // forwarded on a flow that exists (asymmetric routing) but changes
    // none: a SYN, FIN or RST from there only ever opens, closes or
    // restarts a flow for whoever spoofs it.
    constexpr std::uint8_t k_state_flags = tcp_flag::syn | tcp_flag::fin | tcp_flag::rst;
    if (s.wrong_side && p.proto == ip_proto::tcp && p.has_l4 && (p.tcp_flags & k_state_flags) != 0) {
      return drop(s, drop_reason::spoofed_source);
    }
  }
  if (p.fragment && p.fragment_offset != 0) {
    s.deferred = true;
    s.done = true;  // out of the flow stages; follow_fragment() decides
    deferred_ = true;
    return;
  }
  make_sides(s, policy, src_res, dst_res);
}

void worker::follow_fragment(slot& s) {
  switch (fragments_.lookup(s.packet, s.in_port, now_)) {
    case fragment_table::follow::allow:
      return forward(s);
    case fragment_table::follow::orphan:
      return drop(s, drop_reason::fragment_orphan);
    case fragment_table::follow::overlap:
      return drop(s, drop_reason::fragment_overlap);
  }
}

// One side per protected resource the packet touches (S1): the sender's
// egress and the receiver's ingress, each with the flow as that resource
// sees it (its own address local).
void worker::make_sides(slot& s, const compiled_policy& policy, std::uint32_t src_res, std::uint32_t dst_res) {
  const parsed_packet& p = s.packet;
  const bool ports = p.proto == ip_proto::tcp || p.proto == ip_proto::udp;
  const bool icmp = is_icmp(p);
  for (const bool inbound : {false, true}) {
    const std::uint32_t res = inbound ? dst_res : src_res;
    if (res == k_no_resource) continue;
    side& sd = s.side_of[s.sides++];
    sd.reset(res, inbound, p.fam, p.icmp_error ? p.quote.proto : p.proto);
    if (p.icmp_error) {
      make_error_side(s, policy, sd, src_res);
      continue;
    }
    sd.key.local = inbound ? p.dst : p.src;
    sd.key.remote = inbound ? p.src : p.dst;
    if (ports) {
      sd.key.local_port = inbound ? p.dst_port : p.src_port;
      sd.key.remote_port = inbound ? p.src_port : p.dst_port;
    } else if (icmp) {
      // A query is tracked by its type alone (the key has no room for the
      // code), so only the code every real one has: 0.
      if (p.icmp_query && p.icmp_code == 0) {
        sd.key.local_port = p.src_port;  // the identifier
        sd.key.remote_port = icmp_query_key(p.fam, p.icmp_type, inbound);
      } else {
        sd.stateless = true;  // neither query nor error: nothing to track
      }
    }
  }
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    if (sd.stateless || sd.classify) continue;
    sd.hash = conns_.hash(sd.key);
    conns_.prefetch_control(sd.hash);
  }
}

// An ICMP error (S6) is related to a flow only as Linux conntrack relates
// it: the error goes back to the sender of the packet it quotes (outer
// destination = quoted source; the outer source may be any router on the
// path), and the quoted packet belongs, as it was sent, to a flow tracked
// for this side's resource: on the receiver's side the resource sent the
// quoted packet, on the sender's side (the resource reports a packet it
// received) the resource was its destination.  Anything else is judged by
// the ICMP rules alone.
void worker::make_error_side(const slot& s, const compiled_policy& policy, side& sd, std::uint32_t src_res) {
  const parsed_packet& p = s.packet;
  const quoted_packet& q = p.quote;
  const bool back_to_sender = q.src == p.dst;
  const bool owns_quote = sd.inbound || q.dst == p.src || policy.resources.find({p.fam, q.dst}) == src_res;
  const bool quoted_ports = q.proto == ip_proto::tcp || q.proto == ip_proto::udp;
  const bool quoted_icmp = (q.proto == ip_proto::icmp && p.fam == net::family::ipv4) ||
                           (q.proto == ip_proto::icmpv6 && p.fam == net::family::ipv6);
  // A flow the quote could name: TCP/UDP with its ports, an ICMP query, or
  // another protocol (by address pair).
  const bool names_flow = quoted_ports || quoted_icmp ? p.quote_has_ports : true;
  if (!back_to_sender || !owns_quote || !names_flow) {
    sd.stateless = true;
    return;
  }
  sd.icmp_related = true;
  sd.key.local = sd.inbound ? q.src : q.dst;
  sd.key.remote = sd.inbound ? q.dst : q.src;
  if (quoted_ports) {
    sd.key.local_port = sd.inbound ? q.src_port : q.dst_port;
    sd.key.remote_port = sd.inbound ? q.dst_port : q.src_port;
  } else if (quoted_icmp) {
    // The quoted query travelled away from the resource on the receiver's
    // side, towards it on the sender's.
    sd.key.local_port = q.src_port;
    sd.key.remote_port = icmp_query_key(p.fam, q.icmp_type, !sd.inbound);
  }
}

void worker::classify_side(side& sd, const parsed_packet& p, const compiled_policy& policy) {
  (void)policy;
  const direction dir = sd.inbound ? direction::ingress : direction::egress;
  sd.classify = true;
  sd.classify_index = classify_count_++;
  if (p.icmp_error || is_icmp(p)) {
    // ICMP rules match the message's own type and code, with the packet's
    // own remote address.
    classify_keys_[sd.classify_index] = classify_key::make(
        {sd.resource, dir, sd.inbound ? p.source() : p.destination(), p.proto, 0, 0, p.icmp_type, p.icmp_code});
    return;
  }
  classify_keys_[sd.classify_index] = classify_key::make(
      {sd.resource, dir, {p.fam, sd.key.remote}, p.proto, sd.key.local_port, sd.key.remote_port, 0, 0});
}

// A side's flow, unless it has timed out (connection_table::live).
flow_entry* worker::live_flow(side& sd) {
  flow_entry* e = conns_.live(sd.key, sd.hash, sd.hint, now_);
  sd.entry = e;
  sd.seen = conns_.changes();
  return e;
}

// The side's flow: the entry found last while the table has not changed
// since (the common case: a burst of known flows inserts nothing), else
// found again.
flow_entry* worker::entry_of(side& sd) {
  if (sd.seen != conns_.changes()) {
    sd.entry = conns_.find(sd.key, sd.hash, sd.hint);
    sd.seen = conns_.changes();
  }
  return sd.entry;
}

void worker::look_up(slot& s, const compiled_policy& policy) {
  const parsed_packet& p = s.packet;
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    // S1: a resource's source address from the port it does not sit
    // behind may belong to a flow that exists (asymmetric routing), never
    // open or judge one of its own.
    const bool spoofable = !sd.inbound && s.wrong_side;
    if (sd.stateless) {
      if (s.via_quote) {
        s.drop = drop_reason::unprotected;
        continue;
      }
      if (spoofable) {
        s.drop = drop_reason::spoofed_source;
        continue;
      }
      classify_side(sd, p, policy);
      continue;
    }
    if (sd.icmp_related) {
      // S6: an error quoting a tracked flow passes as related; otherwise the
      // error is judged by the rules like any ICMP message.
      flow_entry* e = live_flow(sd);
      if (e != nullptr && e->generation != static_cast<std::uint32_t>(policy.generation) &&
          !still_allowed(*e, sd, policy)) {
        // The quoted flow ended by the change (S8): the error is not related
        // to anything any more.
        conns_.close(e, now_);
        sd.entry = nullptr;
        e = nullptr;
      }
      if (e != nullptr && policy.icmp_errors_related) {
        ++tally_[counter_id::related];
        continue;
      }
      if (s.via_quote) {
        s.drop = drop_reason::unprotected;
        continue;
      }
      if (spoofable) {
        s.drop = drop_reason::spoofed_source;
        continue;
      }
      sd.stateless = true;
      classify_side(sd, p, policy);
      continue;
    }
    flow_entry* e = live_flow(sd);
    if (e != nullptr && e->generation != static_cast<std::uint32_t>(policy.generation) &&
        !still_allowed(*e, sd, policy)) {
      const bool untracked = (e->flags & flow_flag::untracked) != 0;
      conns_.close(e, now_);
      sd.entry = nullptr;
      s.drop = untracked ? drop_reason::untracked_cut : drop_reason::revalidate_cut;
      continue;
    }
    if (e != nullptr) {
      // Checked now, applied in commit once every side has accepted.
      const track_verdict v = check(*e, p, sd.inbound);
      if (v == track_verdict::accept) {
        sd.known = true;
        continue;
      }
      if (v == track_verdict::invalid) {
        s.drop = drop_reason::tcp_invalid;
        continue;
      }
      conns_.close(e, now_);  // restart: a new connection on a closed flow's ports
      sd.entry = nullptr;
    }
    // No flow (yet: an earlier packet of this burst may still create it).
    if (spoofable) {
      sd.missing = drop_reason::spoofed_source;
      continue;
    }
    switch (how_it_opens(p, policy.adopt_midstream)) {
      case opening::invalid:
        sd.missing = drop_reason::tcp_invalid;
        continue;
      case opening::stateless:
        sd.stateless = true;
        break;
      case opening::opens:
        break;
    }
    classify_side(sd, p, policy);
  }
}

// A flow met by its first packet under a newer policy (S8).  The cloud
// judges untracked flows by the rules on every packet, so a change applies
// to them at once: both their directions must still be allowed.  A tracked
// flow goes on (keep), unless its resource was marked for revalidation
// since the flow was last judged: then its original direction must still
// be allowed.  An audit-mode resource's flows go on either way, counted.
bool worker::still_allowed(flow_entry& e, const side& sd, const compiled_policy& policy) {
  const std::uint32_t generation = static_cast<std::uint32_t>(policy.generation);
  const std::size_t r = std::min<std::size_t>(sd.resource, policy.resource_count());
  const bool untracked = (e.flags & flow_flag::untracked) != 0;
  const std::uint32_t from = policy.resource_revalidate_from[r];
  // A flow audit mode let in (no rule allowed it) is judged again as soon
  // as the policy changes: once its resource enforces, it ends unless a
  // rule allows it now.
  const bool audit_opened = e.rule == k_no_rule;
  // A flow opened for another resource than the one its address belongs to
  // now (deleted and created again, the address moved) was judged by other
  // groups: judged again.  Slots stay with a resource while it lives
  // (resource_slots.hpp); the shared unlimited slot says nothing.
  const std::uint16_t own_slot = r < policy.resource_count() ? policy.resource_slot[r] : k_unlimited_slot;
  const bool other_resource = e.quota_slot != own_slot || own_slot == k_unlimited_slot;
  if (!untracked && !audit_opened && !other_resource &&
      (from == 0 || static_cast<std::int32_t>(e.generation - from) >= 0)) {
    e.generation = generation;
    return true;
  }
  const bool inbound_first = (e.flags & flow_flag::initiated_inbound) != 0;
  const direction first = inbound_first ? direction::ingress : direction::egress;
  const decision there = classify(policy, judge_key(e, sd, first, true));
  bool allowed = there.allowed();
  if (untracked && allowed) allowed = classify(policy, judge_key(e, sd, opposite(first), false)).allowed();
  if (!untracked && !audit_opened) ++tally_[counter_id::flows_revalidated];
  if (!allowed) {
    if (policy.resource_audit[r] == 0) return false;
    if (!audit_opened) ++tally_[counter_id::audit_would_deny];  // counted once, when it first would be denied
  }
  e.generation = generation;
  e.rule = there.rule;
  if (untracked && !there.untracked) e.flags = static_cast<std::uint8_t>(e.flags & ~flow_flag::untracked);
  return true;
}

// A flow's packet in direction `dir` as the rules see it: TCP and UDP by
// their ports, an ICMP query by its request (the flow's opening packet,
// `opening`) or its reply.
classify_key worker::judge_key(const flow_entry& e, const side& sd, direction dir, bool opening) {
  const net::ip_address remote{sd.key.fam, sd.key.remote};
  const bool icmp = (sd.key.proto == ip_proto::icmp && sd.key.fam == net::family::ipv4) ||
                    (sd.key.proto == ip_proto::icmpv6 && sd.key.fam == net::family::ipv6);
  if (icmp) {
    const auto request = static_cast<std::uint8_t>(e.remote_port & 0xFF);
    std::uint8_t type = request;
    if (!opening) type = sd.key.fam == net::family::ipv6 ? 129 : (request == 8 ? 0 : request + 1);
    return classify_key::make({sd.resource, dir, remote, sd.key.proto, 0, 0, type, 0});
  }
  return classify_key::make({sd.resource, dir, remote, sd.key.proto, sd.key.local_port, sd.key.remote_port, 0, 0});
}

// The packet's verdict, applied all or nothing: it passes only if every
// side allows it, and only a packet that passes changes any flow (a
// dropped packet leaves no entry behind, nor any state change).
void worker::commit(slot& s, const compiled_policy& policy) {
  const parsed_packet& p = s.packet;
  if (s.drop != drop_reason::none) return drop(s, s.drop);
  bool judged = false;  // a side was judged by the rules (established flows: none)
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    if (sd.missing != drop_reason::none || (sd.classify && !sd.stateless)) {
      // A flow an earlier packet of this burst started is this packet's
      // flow (a request and its answer in one burst); a packet that may
      // not open one needs it.
      const flow_entry* e = entry_of(sd);
      if (e != nullptr) {
        if (check(*e, p, sd.inbound) != track_verdict::accept) return drop(s, drop_reason::tcp_invalid);
        sd.known = true;
        sd.classify = false;
        sd.missing = drop_reason::none;
      } else if (sd.missing != drop_reason::none) {
        return drop(s, sd.missing);
      }
    } else if (sd.known) {
      // Earlier packets of this burst may have moved a known flow on (a
      // RST, FINs) or evicted it: judge this packet against the flow as it
      // is now.
      const flow_entry* e = entry_of(sd);
      if (e == nullptr) return drop(s, drop_reason::conntrack_allowance_exceeded);
      if (check(*e, p, sd.inbound) != track_verdict::accept) return drop(s, drop_reason::tcp_invalid);
    }
    judged = judged || sd.classify;
  }
  const bool first_fragment = p.fragment && p.fragment_offset == 0;
  std::array<bool, 2> created{};
  if (judged) {
    for (std::uint8_t k = 0; k < s.sides; ++k) {
      const side& sd = s.side_of[k];
      if (sd.classify && !decisions_[sd.classify_index].allowed()) {
        if (policy.resource_audit[std::min<std::size_t>(sd.resource, policy.resource_count())] != 0) {
          ++tally_[counter_id::audit_would_deny];  // passed (and tracked below), as if a rule allowed it
          continue;
        }
        // Its followers are orphans now, even those of an earlier copy of
        // this first fragment that was allowed.
        if (first_fragment) fragments_.forget(p, now_);
        return drop(s, drop_reason::policy_denied);
      }
    }
    // Create the flows the packet starts; if one does not fit, undo what
    // this packet created.
    drop_reason failed = drop_reason::none;
    for (std::uint8_t k = 0; k < s.sides; ++k) {
      const side& sd = s.side_of[k];
      if (!sd.classify || sd.stateless || sd.known) continue;
      flow_entry* e = insert_flow(s, sd, policy, failed);
      if (e == nullptr) break;
      const decision& d = decisions_[sd.classify_index];
      track_first(*e, p, sd.inbound, now_, timeouts_of(policy, sd.resource));
      e->rule = d.rule;
      e->generation = static_cast<std::uint32_t>(policy.generation);
      if (d.untracked) e->flags |= flow_flag::untracked;
      created[k] = true;
    }
    if (failed != drop_reason::none) {
      for (std::uint8_t k = 0; k < s.sides; ++k) {
        if (created[k]) conns_.undo(s.side_of[k].key, s.side_of[k].hash);
      }
      return drop(s, failed);
    }
  }
  if (first_fragment && fragments_.remember(p, s.in_port, now_, config_.fragment_timeout_ms))
    ++tally_[counter_id::fragments_evicted];
  const std::uint32_t bytes = s.mbuf->pkt_len;
  for (std::uint8_t k = 0; k < s.sides; ++k) {
    side& sd = s.side_of[k];
    if (!sd.known && !created[k]) {
      // Judged by the rules alone: the rule that allowed it admitted it
      // (k_no_rule: an audit-mode resource let it pass).  Related: no
      // rule's.
      if (sd.classify && sd.stateless) rule_counts_.admit(decisions_[sd.classify_index].rule, bytes, now_ms_);
      continue;
    }
    flow_entry* e = entry_of(sd);
    if (e == nullptr) continue;
    if (created[k]) {
      conns_.opened(*e, now_);
      rule_counts_.opened(e->rule);
    }
    // Counted: every packet forwarded on the flow, those from the
    // resource's wrong port too (they passed; the flow log should show
    // them), for the flow and for the rule that allows it.  ICMP errors
    // passed as related belong to no flow's counts.
    conns_.count(*e, bytes, sd.inbound != ((e->flags & flow_flag::initiated_inbound) != 0));
    rule_counts_.admit(e->rule, bytes, now_ms_);
    // From the resource's wrong port: forwarded on its flow, changing
    // nothing of it (no state, window or timeout) on any side.
    if (sd.known && !s.wrong_side) track(*e, p, sd.inbound, now_, timeouts_of(policy, sd.resource));
  }
  forward(s);
}

// A new flow's entry, within the table and the resource's share of it
// (S11; connection_table::open), never evicting this packet's own flows.
flow_entry* worker::insert_flow(const slot& s, const side& sd, const compiled_policy& policy, drop_reason& why) {
  std::array<flow_key, 2> mine;
  for (std::uint8_t k = 0; k < s.sides; ++k) mine[k] = s.side_of[k].key;
  open_refusal refused = open_refusal::none;
  flow_entry* e = conns_.open(sd.key, sd.hash, policy.resource_slot[sd.resource],
                              policy.resource_flow_limit[sd.resource], {mine.data(), s.sides}, now_, refused);
  if (e == nullptr) {
    why = refused == open_refusal::share_full ? drop_reason::resource_allowance_exceeded
                                              : drop_reason::conntrack_allowance_exceeded;
  }
  return e;
}

void worker::forward(slot& s) {
  s.done = true;
  const std::size_t out = s.in_port == config_.outside_port ? 1 : 0;
  tx_[out][tx_count_[out]++] = s.mbuf;
}

void worker::drop(slot& s, drop_reason why) {
  s.done = true;
  tally_.drop(why);
  rte_pktmbuf_free(s.mbuf);
}

void worker::flush() {
  for (std::size_t out = 0; out < 2; ++out) {
    const std::uint16_t n = tx_count_[out];
    if (n == 0) continue;
    const std::uint16_t port = out == 0 ? config_.outside_port : config_.inside_port;
    const std::uint16_t sent = rte_eth_tx_burst(port, config_.tx_queue, tx_[out].data(), n);
    tally_[counter_id::tx] += sent;
    for (std::uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(tx_[out][i]);
    if (sent != n) tally_.drop(drop_reason::tx_failed, n - sent);
    tx_count_[out] = 0;
  }
}

void worker::age() {
  // Once per millisecond, not per loop: a slice proportional to the time
  // gone by keeps the cost per second fixed, however fast the loop spins.
  const std::uint32_t elapsed = now_ - aged_at_;
  if (elapsed == 0 || config_.ageing_period_ms == 0) return;
  aged_at_ = now_;
  const std::uint64_t slots = conns_.flows().slot_count();
  const std::uint64_t period = config_.ageing_period_ms;
  // At most a sixteenth of the table per call: after a stall (a clock
  // jump, a descheduled core) the sweep catches up over several loops
  // instead of stopping the worker for one long one.
  const auto budget =
      static_cast<std::uint32_t>(std::min<std::uint64_t>(slots / 16 + 1, (slots * elapsed + period - 1) / period));
  conns_.age(budget, now_);
  constexpr std::uint32_t k_fragment_slots_per_loop = 32;
  fragments_.age(now_, k_fragment_slots_per_loop);
}

}  // namespace sgfw::dp
